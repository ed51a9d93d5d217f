"""Eager PyTorch SIREN trainer: the baseline bench/train.ts times inrscape against.

It trains a SIREN on a (frames, cells, 3) velocity field the way the reference
Python code base does (docs/reference.md, Model and Training loop), in plain
eager PyTorch, so that its steps/s can be put side by side with inrscape's
engine on the same shapes. It is a timing baseline, not part of inrscape.

- Model: a sine layer 4 -> h, `--layers` sine layers h -> h, a linear layer
  h -> 3. Sine layers compute sin(omega * (W x + b)). First-layer weights are
  U(-1/in, 1/in), hidden and output weights U(-sqrt(6/in)/omega,
  +sqrt(6/in)/omega); biases keep torch's default for nn.Linear.
- Inputs of a point: t = frame / frames and (x, y, z) = its position (the unit
  box); target: its velocity.
- Each step draws `--batch` distinct frames on the host with numpy and trains on
  every cell of them; MSE loss, Adam with torch's defaults, gradients clipped to
  global norm 1.0, CosineAnnealingLR down to 0.01 lr stepped after every step.
- `--evals K` adds the reference's progress evaluations: R2 on all frames every
  steps // K steps, inside the timed loop.
- `--device cuda`: data and model live on the GPU, the frames are still drawn on
  the host each step, TF32 is off unless `--tf32`, and the device is
  synchronised before the clock stops.

Data: `--pos P.npy --vel V.npy` (both (frames, cells, 3), positions in the unit
box; `--frames`/`--cells` are then ignored), or else a synthetic random walk in
the periodic unit box with the reference's velocity rule.

Output, one line on stdout: by default

    steps/s 12.34  samples/s 98720  r2 0.1234  slope 0.012  mse 1.234e-02  train_s 8.1

(bench/train.ts reads `steps/s`), or with `--json` one JSON object with
steps_per_s, samples_per_s, r2, slope, mse, train_s, device and torch.
train_s is the training loop (steps and `--evals` evaluations), not the final
evaluation. Runs on torch 1.13 (Debian's python3-torch) and torch 2.x.

As a user's trainer under a study (`study.command`, docs/cluster.md):
`--config FILE` takes the shape, omega, lr, steps, batch and the periods from
the config's `inr:` section (t = frame / frames / inr_t_period, xyz = pos /
inr_xy_period), `--dataset DIR` reads DIR/pos.npy and DIR/vel.npy,
`--max-minutes M` ends training at the budget, `--seed S` seeds torch and the
frame draws, and `--run-dir DIR` gets the reference's results.log.
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import torch

DT = 0.002  # time step of the synthetic walk
EVAL_FRAMES = 8  # frames per forward pass when predicting all frames


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=200, help='frames of the synthetic data')
    p.add_argument('--cells', type=int, default=1000, help='cells of the synthetic data')
    p.add_argument('--hidden', type=int, default=384, help='width h')
    p.add_argument('--layers', type=int, default=3, help='hidden sine layers (n_layers_inr)')
    p.add_argument('--omega', type=float, default=10.0)
    p.add_argument('--lr', type=float, default=1e-4)
    p.add_argument('--steps', type=int, default=200)
    p.add_argument('--batch', type=int, default=8, help='frames per step')
    p.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    p.add_argument('--pos', type=str, default='', help='positions .npy (frames, cells, 3)')
    p.add_argument('--vel', type=str, default='', help='velocities .npy (frames, cells, 3)')
    p.add_argument('--device', type=str, default='cpu', help='cpu, cuda, cuda:N')
    p.add_argument('--tf32', action='store_true', help='allow TF32 matmuls on CUDA')
    p.add_argument('--evals', type=int, default=0, help='progress evaluations during training')
    p.add_argument('--json', action='store_true', help='print one JSON line instead of the text line')
    p.add_argument('--config', type=str, default='', help="a config YAML: its inr: section sets the run")
    p.add_argument('--dataset', type=str, default='', help='a data set folder with pos.npy and vel.npy')
    p.add_argument('--run-dir', type=str, default='', help="write the reference's results.log here")
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--max-minutes', type=float, default=0, help='end training at this budget (0: none)')
    a = p.parse_args()
    a.xy_period, a.t_period, a.inr = 1.0, 1.0, {}
    if a.config:
        import yaml  # only this mode needs it (Debian: python3-yaml)
        with open(a.config) as f:
            a.inr = (yaml.safe_load(f) or {}).get('inr') or {}
        for key, name, kind in (('hidden_dim_inr', 'hidden', int), ('n_layers_inr', 'layers', int), ('omega_inr', 'omega', float),
                                ('inr_learning_rate', 'lr', float), ('inr_total_steps', 'steps', int), ('inr_batch_size', 'batch', int),
                                ('inr_xy_period', 'xy_period', float), ('inr_t_period', 't_period', float)):
            if key in a.inr:
                setattr(a, name, kind(a.inr[key]))
    if a.dataset:
        a.pos, a.vel = f'{a.dataset}/pos.npy', f'{a.dataset}/vel.npy'
    if bool(a.pos) != bool(a.vel):
        p.error('--pos and --vel go together')
    for name in ('frames', 'cells', 'hidden', 'layers', 'steps', 'batch', 'threads'):
        if getattr(a, name) < 1:
            p.error(f'--{name} must be at least 1')
    if a.evals < 0:
        p.error('--evals must be 0 or more')
    return a


def synthetic_series(frames, cells, rng):
    """A random walk in the periodic unit box; velocity by the reference's rule."""
    start = rng.random((1, cells, 3))
    steps = rng.normal(0.0, DT, (frames - 1, cells, 3))
    pos = np.mod(np.concatenate([start, start + np.cumsum(steps, axis=0)]), 1.0)
    return pos.astype(np.float32), wrapped_velocity(pos, DT).astype(np.float32)


def wrapped_velocity(pos, dt):
    """Finite difference of consecutive frames at the minimum image, divided by dt;
    the last frame repeats the one before."""
    if len(pos) < 2:
        return np.zeros_like(pos)
    d = np.diff(pos, axis=0)
    d -= np.round(d)
    return np.concatenate([d, d[-1:]]) / dt


def load_series(a, rng):
    if not a.pos:
        return synthetic_series(a.frames, a.cells, rng)
    pos = np.load(a.pos).astype(np.float32)
    vel = np.load(a.vel).astype(np.float32)
    if pos.ndim != 3 or pos.shape[2] != 3 or vel.shape != pos.shape:
        sys.exit(f'--pos {pos.shape} and --vel {vel.shape} must both be (frames, cells, 3)')
    return pos, vel


class SineLayer(torch.nn.Module):
    """sin(omega * (W x + b)), with SIREN's weight init (first or later layer)."""

    def __init__(self, fan_in, fan_out, omega, first):
        super().__init__()
        self.omega = omega
        self.linear = torch.nn.Linear(fan_in, fan_out)
        bound = 1.0 / fan_in if first else math.sqrt(6.0 / fan_in) / omega
        with torch.no_grad():
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x):
        return torch.sin(self.omega * self.linear(x))


class Siren(torch.nn.Module):
    """The reference layout: state-dict names net.0.linear.*, ..., net.{L+1}.*."""

    def __init__(self, hidden, layers, omega, outputs=3):
        super().__init__()
        out = torch.nn.Linear(hidden, outputs)
        bound = math.sqrt(6.0 / hidden) / omega
        with torch.no_grad():
            out.weight.uniform_(-bound, bound)
        self.net = torch.nn.Sequential(
            SineLayer(4, hidden, omega, first=True),
            *[SineLayer(hidden, hidden, omega, first=False) for _ in range(layers)],
            out,
        )

    def forward(self, x):
        return self.net(x)


def set_tf32(dev, allowed):
    if dev.type != 'cuda':
        return
    # set_float32_matmul_precision exists from torch 1.12 on and is the form
    # torch 2.x prefers; 'highest' keeps matmuls in full fp32.
    torch.set_float32_matmul_precision('high' if allowed else 'highest')
    torch.backends.cudnn.allow_tf32 = allowed


def sync(dev):
    if dev.type == 'cuda':
        torch.cuda.synchronize(dev)


def device_name(dev):
    if dev.type == 'cuda':
        return f'{dev} ({torch.cuda.get_device_name(dev)})'
    return str(dev)


def pearson_r2(gt, pred):
    """Squared Pearson correlation of two flat tensors, sums in float64."""
    g = gt.double() - gt.double().mean()
    p = pred.double() - pred.double().mean()
    denom = torch.sqrt((g * g).sum() * (p * p).sum())
    return float(((g * p).sum() / denom) ** 2) if float(denom) > 0 else float('nan')


def write_results_log(a, mse, r2, slope, shape, minutes):
    """The reference's results.log: key: value lines in its order and formats."""
    frames, cells, comps = shape
    lines = [
        ('field_name', a.inr.get('inr_field_name', 'velocity')), ('inr_type', a.inr.get('inr_type', 'siren_txyz')),
        ('gradient_mode', a.inr.get('inr_gradient_mode', False)), ('final_mse', f'{mse:.6e}'), ('final_r2', f'{r2:.6f}'),
        ('slope', f'{slope:.4f}'), ('n_cells', cells), ('n_frames', frames), ('n_components', comps),
        ('total_steps', a.steps), ('training_time_min', f'{minutes:.1f}'),
    ]
    with open(f'{a.run_dir}/results.log', 'w') as f:
        f.write(''.join(f'{k}: {v}\n' for k, v in lines))


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    dev = torch.device(a.device)
    if dev.type == 'cuda' and not torch.cuda.is_available():
        sys.exit(f'--device {a.device}: this torch sees no CUDA device')
    set_tf32(dev, a.tf32)

    pos_np, vel_np = load_series(a, rng)
    frames, cells, comps = vel_np.shape
    if a.batch > frames:
        sys.exit(f'--batch {a.batch} needs at least that many distinct frames; the data has {frames}')
    pos = torch.from_numpy(pos_np).to(dev)
    vel = torch.from_numpy(vel_np).to(dev)

    model = Siren(a.hidden, a.layers, a.omega, comps).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a.steps, eta_min=0.01 * a.lr)

    def inputs(frame_ids):
        """(t, x, y, z) rows of the given frames, all cells, frame by frame."""
        t = (frame_ids.float() / frames / a.t_period).view(-1, 1, 1).expand(len(frame_ids), cells, 1)
        return torch.cat([t, pos[frame_ids] / a.xy_period], dim=2).reshape(-1, 4)

    def predict_all():
        with torch.no_grad():
            chunks = []
            for f0 in range(0, frames, EVAL_FRAMES):
                ids = torch.arange(f0, min(f0 + EVAL_FRAMES, frames), device=dev)
                chunks.append(model(inputs(ids)))
            return torch.cat(chunks)

    # Start the device's math libraries (CUDA context, cuBLAS handle) before the
    # clock; this touches no model state.
    probe = torch.ones(8, 8, device=dev)
    (probe @ probe).sum().item()
    sync(dev)

    eval_every = max(1, a.steps // a.evals) if a.evals else 0
    t0 = time.perf_counter()
    deadline = t0 + a.max_minutes * 60 if a.max_minutes > 0 else math.inf
    steps_done = 0
    for step in range(a.steps):
        if time.perf_counter() >= deadline:
            break
        ids = torch.from_numpy(rng.choice(frames, size=a.batch, replace=False)).to(dev)
        x = inputs(ids)
        y = vel[ids].reshape(-1, comps)
        opt.zero_grad(set_to_none=True)  # explicit: the default changed between torch 1.x and 2.x
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        steps_done = step + 1
        if eval_every and (step + 1) % eval_every == 0:
            r2 = pearson_r2(vel.reshape(-1), predict_all().reshape(-1))
            print(f'step {step + 1}/{a.steps}  loss {loss.item():.4e}  r2 {r2:.4f}', file=sys.stderr)
    sync(dev)
    train_s = time.perf_counter() - t0

    pred = predict_all().cpu().numpy().astype(np.float64).ravel()
    gt = vel_np.astype(np.float64).ravel()
    mse = float(np.mean((pred - gt) ** 2))
    if np.all(np.isfinite(pred)) and np.ptp(gt) > 0 and np.ptp(pred) > 0:
        r2 = float(np.corrcoef(gt, pred)[0, 1] ** 2)
        slope = float(np.polyfit(gt, pred, 1)[0])
    else:
        r2, slope = float('nan'), float('nan')

    if a.run_dir:
        write_results_log(a, mse, r2, slope, vel_np.shape, (time.perf_counter() - t0) / 60)
    steps_per_s = steps_done / train_s
    samples_per_s = steps_done * a.batch * cells / train_s
    if a.json:
        finite = lambda v: v if math.isfinite(v) else None  # JSON has no NaN
        print(json.dumps({
            'steps_per_s': steps_per_s, 'samples_per_s': samples_per_s,
            'r2': finite(r2), 'slope': finite(slope), 'mse': finite(mse),
            'train_s': train_s, 'device': device_name(dev), 'torch': torch.__version__,
        }))
    else:
        print(f'steps/s {steps_per_s:.2f}  samples/s {samples_per_s:.0f}  r2 {r2:.4f}  '
              f'slope {slope:.3f}  mse {mse:.3e}  train_s {train_s:.1f}')


if __name__ == '__main__':
    main()
