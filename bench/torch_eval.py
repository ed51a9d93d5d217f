"""Full-data evaluation in PyTorch (CPU), for bench/train.ts: the forward passes
of the reference SIREN over every frame (frames x cells points), no gradients,
`--batch-frames` whole frames per forward. Prints `eval_s X points/s Y`.
The model and inputs are synthetic: only the shapes matter for timing.
"""
import argparse, math, time
import numpy as np
import torch

p = argparse.ArgumentParser()
p.add_argument('--frames', type=int, default=9997)
p.add_argument('--cells', type=int, default=1000)
p.add_argument('--hidden', type=int, default=384)
p.add_argument('--layers', type=int, default=3)
p.add_argument('--omega', type=float, default=10.0)
p.add_argument('--batch-frames', type=int, default=8)
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

class Sine(torch.nn.Module):
    def __init__(s, i, o, first, w):
        super().__init__(); s.w = w; s.l = torch.nn.Linear(i, o)
        with torch.no_grad():
            b = 1 / i if first else math.sqrt(6 / i) / w
            s.l.weight.uniform_(-b, b)
    def forward(s, x): return torch.sin(s.w * s.l(x))

model = torch.nn.Sequential(Sine(4, a.hidden, True, a.omega),
                            *[Sine(a.hidden, a.hidden, False, a.omega) for _ in range(a.layers)],
                            torch.nn.Linear(a.hidden, 3))
rng = np.random.default_rng(0)
pos = torch.from_numpy(rng.random((a.cells, 3), dtype=np.float32))
T, N = a.frames, a.cells

def inputs(f0, f1):
    t = (torch.arange(f0, f1, dtype=torch.float32) / T).view(-1, 1, 1).expand(f1 - f0, N, 1)
    return torch.cat([t, pos.expand(f1 - f0, N, 3)], dim=2).reshape(-1, 4)

with torch.no_grad():
    model(inputs(0, min(T, a.batch_frames)))  # warm-up
    t0 = time.time()
    for f0 in range(0, T, a.batch_frames):
        y = model(inputs(f0, min(T, f0 + a.batch_frames)))
    s = time.time() - t0
print(f'eval_s {s:.2f}  points/s {T * N / s:.0f}')
