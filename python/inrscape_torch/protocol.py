"""The engine protocol's framing, as inrscape's TypeScript side speaks it.

A message is a little-endian u32 byte length, a UTF-8 JSON header of that
length, then the raw little-endian buffers the header lists in
`buffers: [[dtype, count], ...]` (dtype f32, f64 or i32), back to back.
Requests and replies alternate: one reply for every request, in order.
"""
import json
import struct
import sys

PROTOCOL_VERSION = 1
DTYPES = {'f32': ('float32', 4), 'f64': ('float64', 8), 'i32': ('int32', 4)}


class Channel:
    def __init__(self, rfile, wfile):
        self.r = rfile
        self.w = wfile

    def _read_exact(self, n):
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.r.readinto(view[got:])
            if not k:
                return None
            got += k
        return buf

    def read(self, np):
        """(header, [numpy arrays]) or None at the end of input."""
        head = self._read_exact(4)
        if head is None:
            return None
        (length,) = struct.unpack('<I', head)
        raw = self._read_exact(length)
        if raw is None:
            return None
        header = json.loads(raw.decode('utf-8'))
        arrays = []
        for dtype, count in header.get('buffers', []):
            name, size = DTYPES[dtype]
            data = self._read_exact(size * count) if count > 0 else bytearray()
            if data is None:
                return None
            arrays.append(np.frombuffer(data, dtype='<' + name[0] + str(size)) if count > 0 else np.empty(0, dtype=name))
        return header, arrays

    def write(self, header, arrays=()):
        listed = []
        blobs = []
        for dtype, a in arrays:
            name, _ = DTYPES[dtype]
            a = a.astype(name, copy=False).reshape(-1)
            listed.append([dtype, int(a.size)])
            blobs.append(memoryview(a.tobytes() if not a.flags['C_CONTIGUOUS'] else a).cast('B'))
        header = dict(header, buffers=listed)
        raw = json.dumps(header, allow_nan=False).encode('utf-8')
        self.w.write(struct.pack('<I', len(raw)))
        self.w.write(raw)
        for b in blobs:
            self.w.write(b)
        self.w.flush()


def open_channel():
    """The protocol owns the process's binary stdin and stdout; text printed by anything else goes to stderr."""
    rfile = sys.stdin.buffer
    wfile = sys.stdout.buffer
    sys.stdout = sys.stderr
    return Channel(rfile, wfile)
