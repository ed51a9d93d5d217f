"""The SIREN of the torch engine: the same model, batches, loss, clipping and
Adam as inrscape's native CPU engine, written out by hand (no autograd) so
that one step is a fixed sequence of kernels on preallocated buffers, which
CUDA can capture once as a graph and replay.

Parameters, gradients and Adam moments are each one flat float32 tensor in
inrscape's layout (weight [out, in] then bias, layer by layer), so state
crosses the protocol as three buffers and Adam is a handful of kernels.
"""

import torch


def _sincos_eager(z, omega):
    u = z * omega
    return torch.sin(u), torch.cos(u).mul_(omega)


class Series:
    """A run's data on the device: scaled positions, each frame's t, velocities."""

    def __init__(self, pos, vel, frames, cells, t_period, xy_period, device):
        import numpy as np
        # Scaled on the host in numpy's exact float32 division, the arithmetic of inrscape's batches.
        xyz = (pos.reshape(frames, cells, 3) / np.float32(xy_period)).astype(np.float32)
        t = (np.arange(frames, dtype=np.float64) / frames).astype(np.float32) / np.float32(t_period)
        self.frames, self.cells = frames, cells
        self.xyz = torch.from_numpy(xyz).to(device)
        self.t = torch.from_numpy(t.astype(np.float32)).to(device)
        self.vel = torch.from_numpy(vel.reshape(frames, cells, 3).copy()).to(device)

    def inputs(self, ids):
        n = ids.numel()
        t = self.t.index_select(0, ids).view(n, 1, 1).expand(n, self.cells, 1)
        return torch.cat([t, self.xyz.index_select(0, ids)], dim=2).view(-1, 4)


class Siren:
    def __init__(self, spec, flat, series, batch, adam, precision, device, max_chunk, eval_points, use_graphs, use_compile, log):
        self.dev = device
        self.h, self.L, self.omega = int(spec['hidden']), int(spec['layers']), float(spec['omega'])
        self.series, self.batch = series, batch
        self.points = batch * series.cells
        self.adam = adam
        self.precision = precision
        self.log = log
        shapes = [(self.h, 4)] + [(self.h, self.h)] * self.L + [(3, self.h)]
        count = sum(o * i + o for o, i in shapes)
        if flat.size != count:
            raise ValueError(f'{flat.size} parameters for a model of {count}')
        f32 = dict(dtype=torch.float32, device=device)
        self.p = torch.from_numpy(flat.copy()).to(device)
        self.g = torch.zeros(count, **f32)
        self.m = torch.zeros(count, **f32)
        self.v = torch.zeros(count, **f32)
        self.W, self.b, self.gW, self.gb = [], [], [], []
        off = 0
        for o, i in shapes:
            for dst, src in ((self.W, self.p), (self.gW, self.g)):
                dst.append(src[off:off + o * i].view(o, i))
            off += o * i
            for dst, src in ((self.b, self.p), (self.gb, self.g)):
                dst.append(src[off:off + o])
            off += o
        self.adam_step = 0
        self.step_t = torch.zeros((), dtype=torch.float64, device=device)
        self.max_chunk = max_chunk
        self.eval_points = eval_points
        self.ids = torch.zeros(max_chunk, batch, dtype=torch.int64, device=device)
        self.lrs = torch.zeros(max_chunk, dtype=torch.float64, device=device)
        self.losses = torch.zeros(max_chunk, dtype=torch.float64, device=device)
        self.norms = torch.zeros(max_chunk, dtype=torch.float64, device=device)
        self.k = torch.zeros(1, dtype=torch.int64, device=device)
        self.sincos = _sincos_eager
        self.compiled = False
        self.graph = None
        if use_compile:
            self._try_compile()
        if use_graphs:
            self._try_capture()

    # -- precision ----------------------------------------------------------
    def _mm(self, a, b, layer):
        """a @ b in the run's precision; the first layer (K = 4) always in fp32."""
        if self.precision == 'bf16' and layer > 0:
            return torch.mm(a.to(torch.bfloat16), b.to(torch.bfloat16)).float()
        return torch.mm(a, b)

    def _linear(self, a, layer):
        if self.precision == 'bf16' and layer > 0:
            return self._mm(a, self.W[layer].t(), layer).add_(self.b[layer])
        return torch.addmm(self.b[layer], a, self.W[layer].t())

    # -- one step, reading its frames and learning rate at index k ----------
    def _step(self):
        kk = self.k
        ids = self.ids.index_select(0, kk).view(-1)
        lr = self.lrs.index_select(0, kk).view(())
        x = self.series.inputs(ids)
        target = self.series.vel.index_select(0, ids).view(-1, 3)
        acts, gates = [x], []
        a = x
        for l in range(self.L + 1):
            s, c = self.sincos(self._linear(a, l), self.omega)
            acts.append(s)
            gates.append(c)
            a = s
        y = self._linear(a, self.L + 1)
        # As the CPU engine: the error and its square in float64, dy rounded once.
        e = y.double() - target.double()
        n = self.points * 3
        loss = torch.sum(e * e) / n
        dy = (e * (2.0 / n)).float()
        head = self.L + 1
        self.gW[head].copy_(self._mm(dy.t(), acts[head], head))
        torch.sum(dy, 0, out=self.gb[head])
        da = self._mm(dy, self.W[head], head)
        for l in range(self.L, -1, -1):
            dz = da * gates[l]
            self.gW[l].copy_(self._mm(dz.t(), acts[l], l))
            torch.sum(dz, 0, out=self.gb[l])
            if l > 0:
                da = self._mm(dz, self.W[l], l)
        norm = torch.sum(self.g.double() ** 2).sqrt()
        # torch.nn.utils.clip_grad_norm_: max_norm / (norm + 1e-6), at most 1; NaN stays NaN.
        clip = (self.adam['clipNorm'] / (norm + 1e-6)).clamp(max=1.0).float()
        b1, b2 = self.adam['beta1'], self.adam['beta2']
        self.step_t += 1
        step_size = (lr / (1.0 - torch.pow(b1, self.step_t))).float()
        bc2_sqrt = (1.0 - torch.pow(b2, self.step_t)).sqrt().float()
        g = self.g * clip
        self.m.mul_(b1).add_(g, alpha=1.0 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1.0 - b2)
        denom = self.v.sqrt().div_(bc2_sqrt).add_(self.adam['eps'])
        self.p.sub_(self.m.div(denom).mul_(step_size))
        self.losses.index_copy_(0, kk, loss.view(1))
        self.norms.index_copy_(0, kk, norm.view(1))
        self.k += 1

    # -- compile and capture, each falling back to plain eager -------------
    def _snapshot(self):
        return [t.clone() for t in (self.p, self.m, self.v, self.step_t)]

    def _restore(self, snap):
        for t, s in zip((self.p, self.m, self.v, self.step_t), snap):
            t.copy_(s)
        self.k.zero_()

    def _warm(self, steps):
        snap = self._snapshot()
        side = torch.cuda.Stream() if self.dev.type == 'cuda' else None
        if side is not None:
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(steps):
                    self._step()
            torch.cuda.current_stream().wait_stream(side)
        else:
            for _ in range(steps):
                self._step()
        self._restore(snap)

    def _try_compile(self):
        try:
            self.sincos = torch.compile(_sincos_eager, dynamic=False, fullgraph=True)
            self._warm(2)
            self.compiled = True
        except Exception as e:  # an inductor without a compiler, an old triton: eager is still right
            self.log(f'torch.compile of the sine layer failed, running eager: {type(e).__name__}: {e}')
            self.sincos = _sincos_eager
            self._restore(self._snapshot())

    def _try_capture(self):
        try:
            self._warm(3)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._step()
            self.k.zero_()
            self.graph = graph
        except Exception as e:
            self.log(f'CUDA graph capture failed, running eager: {type(e).__name__}: {e}')
            self.graph = None
            torch.cuda.synchronize()

    # -- the protocol's operations ------------------------------------------
    def train_chunk(self, frames, lrs):
        n = lrs.size
        if n > self.max_chunk:
            raise ValueError(f'a chunk of {n} steps; at most {self.max_chunk}')
        pin = self.dev.type == 'cuda'
        ids = torch.from_numpy(frames.astype('int64')).view(n, self.batch)
        lr = torch.from_numpy(lrs.copy())
        if pin:
            ids, lr = ids.pin_memory(), lr.pin_memory()
        self.ids[:n].copy_(ids, non_blocking=pin)
        self.lrs[:n].copy_(lr, non_blocking=pin)
        self.k.zero_()
        tf32 = self.precision == 'tf32'
        if self.dev.type == 'cuda':
            torch.backends.cuda.matmul.allow_tf32 = tf32
        for _ in range(n):
            if self.graph is not None:
                self.graph.replay()
            else:
                self._step()
        self.adam_step += n
        return self.losses[:n].cpu().numpy().copy(), self.norms[:n].cpu().numpy().copy()

    @torch.no_grad()
    def evaluate(self, with_pred, np):
        """Every frame in fp32 (TF32 off), reduced per chunk to float64 sums merged as Chan et al. do."""
        if self.dev.type == 'cuda':
            torch.backends.cuda.matmul.allow_tf32 = False
        s = self.series
        chunk = max(1, min(s.frames, self.eval_points // s.cells))
        frame_mse = torch.empty(s.frames, dtype=torch.float64, device=self.dev)
        pred = np.empty(s.frames * s.cells * 3, dtype=np.float32) if with_pred else None
        acc = None
        for f0 in range(0, s.frames, chunk):
            f1 = min(s.frames, f0 + chunk)
            ids = torch.arange(f0, f1, device=self.dev)
            a = s.inputs(ids)
            for l in range(self.L + 1):
                a = torch.sin(torch.addmm(self.b[l], a, self.W[l].t()) * self.omega)
            y = torch.addmm(self.b[-1], a, self.W[-1].t())
            yd = y.double().view(-1)
            gd = s.vel[f0:f1].double().view(-1)
            e = yd - gd
            frame_mse[f0:f1] = (e * e).view(f1 - f0, -1).sum(1) / (s.cells * 3)
            part = _sums(gd, yd, e)
            acc = part if acc is None else _merge(acc, part)
            if pred is not None:
                pred[f0 * s.cells * 3:f1 * s.cells * 3] = y.view(-1).cpu().numpy()
        sums = torch.stack(acc).cpu().numpy()
        return sums, frame_mse.cpu().numpy(), pred

    def set_parameters(self, flat):
        self.p.copy_(torch.from_numpy(flat.copy()))

    def set_optimizer(self, step, m, v):
        self.adam_step = int(step)
        self.step_t.fill_(float(step))
        self.m.copy_(torch.from_numpy(m.copy()))
        self.v.copy_(torch.from_numpy(v.copy()))


# Sums as 0-d float64 tensors, in the order of inrscape's MetricSums:
# n, meanX, meanY, cxx, cyy, cxy, sse, minX, maxX, minY, maxY, nan.
def _sums(gd, yd, e):
    n = torch.tensor(float(gd.numel()), dtype=torch.float64, device=gd.device)
    mx, my = gd.mean(), yd.mean()
    dx, dy = gd - mx, yd - my
    nan = (torch.isnan(gd).any() | torch.isnan(yd).any()).double()
    return [n, mx, my, (dx * dx).sum(), (dy * dy).sum(), (dx * dy).sum(), (e * e).sum(),
            gd.min(), gd.max(), yd.min(), yd.max(), nan]


def _merge(a, b):
    n = a[0] + b[0]
    ddx, ddy = b[1] - a[1], b[2] - a[2]
    w = a[0] * b[0] / n
    return [n, a[1] + ddx * b[0] / n, a[2] + ddy * b[0] / n,
            a[3] + b[3] + ddx * ddx * w, a[4] + b[4] + ddy * ddy * w, a[5] + b[5] + ddx * ddy * w,
            a[6] + b[6], torch.minimum(a[7], b[7]), torch.maximum(a[8], b[8]),
            torch.minimum(a[9], b[9]), torch.maximum(a[10], b[10]), torch.maximum(a[11], b[11])]
