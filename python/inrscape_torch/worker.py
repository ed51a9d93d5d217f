"""inrscape's torch engine worker.

Started by inrscape (src/inr/engines/torch.ts) as `python worker.py`; speaks
the engine protocol (protocol.py) on stdin/stdout and writes only people's
text to stderr. It says hello first, with its protocol version, so that a
mismatch is found before anything else is sent. Exit status: 0 after a
shutdown request or the end of input, 3 when torch or numpy cannot be
imported (the hello says why).
"""
import ctypes
import os
import platform
import sys
import traceback

from protocol import PROTOCOL_VERSION, open_channel

OLDEST_TORCH = (1, 13)


def log(msg):
    sys.stderr.write(f'inrscape-torch: {msg}\n')
    sys.stderr.flush()


def version_tuple(v):
    parts = []
    for p in v.split('+')[0].split('.')[:2]:
        digits = ''.join(ch for ch in p if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def openblas_threads(n):
    """A torch that reaches BLAS only through libblas.so.3 (Debian's) does not
    pass torch.set_num_threads on to it, and OpenBLAS keeps a thread per core:
    trials run side by side would oversubscribe the cores. Sets OpenBLAS's
    threads to n (when given); returns its path and thread count, or
    (None, None) when torch has loaded no OpenBLAS (then torch's own
    setting is the whole story)."""
    try:
        with open('/proc/self/maps') as f:
            paths = sorted({line.split()[-1] for line in f if 'openblas' in line.rsplit('/', 1)[-1]})
    except OSError:
        return None, None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            get, put = lib.openblas_get_num_threads, lib.openblas_set_num_threads
        except (OSError, AttributeError):
            continue
        if n:
            put(int(n))
        return path, get()
    return None, None


class Failure(Exception):
    """An error with a kind the TypeScript side maps to its own message."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def host_memory():
    try:
        with open('/proc/meminfo') as f:
            info = dict(line.split(':', 1) for line in f)
        return int(info['MemTotal'].split()[0]) * 1024, int(info['MemAvailable'].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None, None


class Worker:
    def __init__(self, torch, np):
        self.torch, self.np = torch, np
        self.device = None
        self.precision = 'fp32'
        self.series = None
        self.model = None

    def init(self, h, _):
        torch = self.torch
        want = h.get('device', 'auto')
        self.precision = h.get('precision', 'fp32')
        threads = h.get('threads')
        if threads:
            torch.set_num_threads(int(threads))
        blas, blas_threads = openblas_threads(threads)
        cuda = torch.cuda.is_available()
        mps = getattr(torch.backends, 'mps', None) is not None and torch.backends.mps.is_available()
        if want == 'auto':
            want = 'cuda' if cuda else 'mps' if mps else 'cpu'
        if want.startswith('cuda'):
            if not cuda:
                raise Failure('no-cuda', f'torch {torch.__version__} sees no CUDA device'
                              f' (built with CUDA {torch.version.cuda or "none"}; CUDA_VISIBLE_DEVICES={os.environ.get("CUDA_VISIBLE_DEVICES", "unset")})')
            index = int(want.split(':')[1]) if ':' in want else 0
            if index >= torch.cuda.device_count():
                raise Failure('no-cuda', f'cuda:{index} asked for, but torch sees {torch.cuda.device_count()} CUDA device(s)')
            self.device = torch.device('cuda', index)
            torch.cuda.set_device(self.device)
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            free, total = torch.cuda.mem_get_info(self.device)
            name = torch.cuda.get_device_name(self.device)
        elif want == 'mps':
            if not mps:
                raise Failure('no-mps', f'torch {torch.__version__} has no MPS device here')
            self.device = torch.device('mps')
            total, free = host_memory()
            name = 'Apple MPS'
        else:
            self.device = torch.device('cpu')
            total, free = host_memory()
            name = platform.processor() or platform.machine()
        if self.precision == 'bf16' and self.device.type == 'cpu':
            raise Failure('user', 'bf16 is for GPUs (CUDA, MPS); on the CPU use fp32')
        return {'device': str(self.device), 'device_type': self.device.type, 'device_name': name,
                'memory_total': total, 'memory_free': free, 'threads': torch.get_num_threads(),
                'openblas': blas, 'openblas_threads': blas_threads,
                'cuda_devices': torch.cuda.device_count() if cuda else 0}, []

    def load_series(self, h, arrays):
        from siren import Series
        pos, vel = arrays
        self.series = Series(pos, vel, int(h['frames']), int(h['cells']), h['t_period'], h['xy_period'], self.device)
        return {}, []

    def open_model(self, h, arrays):
        from siren import Siren
        if self.series is None:
            raise Failure('internal', 'open_model before load_series')
        torch = self.torch
        on_cuda = self.device.type == 'cuda'
        use_graphs = on_cuda and h.get('graphs', True)
        use_compile = on_cuda and h.get('compile', True) and hasattr(torch, 'compile')
        self.model = None
        if on_cuda:
            torch.cuda.empty_cache()
        self.model = Siren(h['spec'], arrays[0], self.series, int(h['batch']), h['adam'], self.precision, self.device,
                           int(h['max_chunk']), int(h['eval_points']), use_graphs, use_compile, log)
        return {'graphs': self.model.graph is not None, 'compiled': self.model.compiled}, []

    def train_chunk(self, h, arrays):
        losses, norms = self._model().train_chunk(arrays[0], arrays[1])
        return {}, [('f64', losses), ('f64', norms)]

    def evaluate(self, h, _):
        sums, frame_mse, pred = self._model().evaluate(bool(h.get('pred')), self.np)
        out = [('f64', sums), ('f64', frame_mse)]
        if pred is not None:
            out.append(('f32', pred))
        return {}, out

    def get_parameters(self, h, _):
        return {}, [('f32', self._model().p.cpu().numpy())]

    def get_optimizer(self, h, _):
        model = self._model()
        return {'step': model.adam_step}, [('f32', model.m.cpu().numpy()), ('f32', model.v.cpu().numpy())]

    def set_parameters(self, h, arrays):
        self._model().set_parameters(arrays[0])
        return {}, []

    def set_optimizer(self, h, arrays):
        self._model().set_optimizer(h['step'], arrays[0], arrays[1])
        return {}, []

    def close_model(self, h, _):
        self.model = None
        return {}, []

    def memory(self, h, _):
        if self.device is not None and self.device.type == 'cuda':
            free, total = self.torch.cuda.mem_get_info(self.device)
            return {'memory_free': free, 'memory_total': total, 'peak': self.torch.cuda.max_memory_allocated(self.device)}, []
        total, free = host_memory()
        return {'memory_free': free, 'memory_total': total, 'peak': None}, []

    def _model(self):
        if self.model is None:
            raise Failure('internal', 'no model is open')
        return self.model


def is_oom(torch, e):
    oom = getattr(torch.cuda, 'OutOfMemoryError', None)
    if oom is not None and isinstance(e, oom):
        return True
    text = str(e)
    return isinstance(e, (MemoryError, RuntimeError)) and ('out of memory' in text or "can't allocate memory" in text)


def main():
    channel = open_channel()
    hello = {'op': 'hello', 'protocol': PROTOCOL_VERSION, 'python': platform.python_version(), 'pid': os.getpid()}
    try:
        import numpy as np
        import torch
    except Exception as e:
        channel.write(dict(hello, ok=False, kind='no-torch', message=f'{type(e).__name__}: {e}'))
        return 3
    if version_tuple(torch.__version__) < OLDEST_TORCH:
        channel.write(dict(hello, ok=False, kind='old-torch', torch=torch.__version__,
                           message=f'torch {torch.__version__} is older than {".".join(map(str, OLDEST_TORCH))}'))
        return 3
    channel.write(dict(hello, ok=True, torch=torch.__version__, numpy=np.__version__,
                       cuda=torch.cuda.is_available(), compile=hasattr(torch, 'compile')))
    worker = Worker(torch, np)
    while True:
        msg = channel.read(np)
        if msg is None:
            return 0
        header, arrays = msg
        op = header.get('op')
        if op == 'shutdown':
            channel.write({'ok': True})
            return 0
        handler = getattr(worker, op, None) if op in OPS else None
        try:
            if handler is None:
                raise Failure('internal', f'unknown operation {op!r}')
            reply, out = handler(header, arrays)
            channel.write(dict(reply, ok=True), out)
        except Failure as e:
            channel.write({'ok': False, 'kind': e.kind, 'message': str(e)})
        except Exception as e:
            kind = 'oom' if is_oom(torch, e) else 'internal'
            if kind == 'internal':
                traceback.print_exc(file=sys.stderr)
            channel.write({'ok': False, 'kind': kind, 'message': f'{type(e).__name__}: {e}'.splitlines()[0]})


OPS = {'init', 'load_series', 'open_model', 'train_chunk', 'evaluate', 'get_parameters', 'get_optimizer', 'set_parameters', 'set_optimizer',
       'close_model', 'memory'}

if __name__ == '__main__':
    sys.exit(main())
