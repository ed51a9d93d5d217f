import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, encodeModel, encodeSafetensors, loadModel, saveModel } from '../src/inr/safetensors.js';
import { initParameters, parameterTensors, sirenSpec } from '../src/inr/spec.js';
import { encodeNpy } from '../src/data/formats/npy.js';
import { ReferenceModel } from './reference/siren.js';
import { tempDir } from './helpers/tmp.js';

const spec = sirenSpec(8, 2, 12.5);

test('a model round-trips through safetensors: same spec, same parameters bit for bit', (t) => {
  const params = initParameters(spec, 3);
  const path = join(tempDir(t), 'model.safetensors');
  saveModel(path, spec, params);
  const back = loadModel(path);
  assert.deepEqual(back.spec, spec);
  assert.equal(back.params.length, params.length);
  back.params.forEach((p, k) => assert.deepEqual(p, params[k]));
});

test('the file is valid safetensors: u64 header length, JSON header with dtype/shape/data_offsets, packed buffer', () => {
  const params = initParameters(spec, 4);
  const bytes = encodeModel(spec, params);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0, 'the buffer starts 8-aligned');
  const headerText = Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8');
  assert.equal(headerText[0], '{');
  assert.match(headerText, /^\{.*\}\s*$/s);
  const header = JSON.parse(headerText) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__: Record<string, string> };
  const names = parameterTensors(spec).map((p) => p.name);
  assert.deepEqual(names, [
    'net.0.linear.weight', 'net.0.linear.bias', 'net.1.linear.weight', 'net.1.linear.bias',
    'net.2.linear.weight', 'net.2.linear.bias', 'net.3.weight', 'net.3.bias',
  ]);
  assert.deepEqual(Object.keys(header).filter((k) => k !== '__metadata__').sort(), [...names].sort());
  for (const v of Object.values(header.__metadata__)) assert.equal(typeof v, 'string');
  assert.equal(header.__metadata__.omega, '12.5');
  // [out, in] layout, offsets contiguous and covering the buffer.
  assert.deepEqual(header['net.0.linear.weight'].shape, [8, 4]);
  assert.deepEqual(header['net.3.weight'].shape, [3, 8]);
  const entries = names.map((k) => header[k]).sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
  let at = 0;
  for (const e of entries) {
    assert.equal(e.dtype, 'F32');
    assert.equal(e.data_offsets[0], at);
    at = e.data_offsets[1];
    assert.equal(at - e.data_offsets[0], 4 * e.shape.reduce((a, b) => a * b, 1));
  }
  assert.equal(at, bytes.length - 8 - n);
  // The weights are where the header says, little-endian.
  const w = header['net.1.linear.weight'];
  assert.equal(view.getFloat32(8 + n + w.data_offsets[0], true), params[2][0]);
});

test('the reader rejects broken files with a clear message', () => {
  const good = encodeSafetensors([{ name: 'a', dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }]);
  assert.deepEqual([...decodeSafetensors(good).tensors[0].data], [1, 2]);
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 1), 'x'), /x is not a valid safetensors file/);
  assert.throws(() => decodeSafetensors(Uint8Array.of(1, 2, 3), 'x'), /shorter than/);
  const extra = new Uint8Array(good.length + 4);
  extra.set(good);
  assert.throws(() => decodeSafetensors(extra, 'x'), /bytes that no tensor uses/);
});

function pythonWithTorch(): boolean {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  return r.status === 0;
}

test('the reference Siren (PyTorch) loads our file with load_state_dict and predicts what we predict', (t) => {
  if (!pythonWithTorch()) {
    t.skip('/usr/bin/python3 with torch and numpy is not available');
    return;
  }
  const dir = tempDir(t);
  const params = initParameters(spec, 5);
  saveModel(join(dir, 'model.safetensors'), spec, params);
  const points = 64;
  const inputs = new Float32Array(points * 4);
  for (let i = 0; i < inputs.length; i++) inputs[i] = ((i * 7919) % 1000) / 1000;
  writeFileSync(join(dir, 'inputs.npy'), encodeNpy(inputs, [points, 4]));
  // The file is read without the safetensors package: json + numpy.frombuffer, as the format is specified.
  const script = `
import json, math, struct, sys
import numpy as np, torch
d = sys.argv[1]
raw = open(d + '/model.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__')
buf = raw[8 + n:]
sd = {k: torch.from_numpy(np.frombuffer(buf[v['data_offsets'][0]:v['data_offsets'][1]], dtype='<f4').reshape(v['shape']).copy()) for k, v in header.items()}

class SineLayer(torch.nn.Module):
    def __init__(self, i, o, omega):
        super().__init__(); self.omega = omega; self.linear = torch.nn.Linear(i, o)
    def forward(self, x): return torch.sin(self.omega * self.linear(x))

class Siren(torch.nn.Module):
    def __init__(self, hidden, layers, omega):
        super().__init__()
        net = [SineLayer(4, hidden, omega)] + [SineLayer(hidden, hidden, omega) for _ in range(layers)]
        net.append(torch.nn.Linear(hidden, 3))
        self.net = torch.nn.Sequential(*net)
    def forward(self, x): return self.net(x)

m = Siren(int(meta['hidden']), int(meta['layers']), float(meta['omega']))
m.load_state_dict(sd, strict=True)
x = torch.from_numpy(np.load(d + '/inputs.npy'))
with torch.no_grad():
    y = m(x).numpy().astype('<f4')
np.save(d + '/pred_torch.npy', y)
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const buf = readFileSync(join(dir, 'pred_torch.npy'));
  const torchPred = new Float32Array(buf.buffer.slice(buf.byteOffset + buf.length - points * 12, buf.byteOffset + buf.length));
  const ours = new Float32Array(points * 3);
  new ReferenceModel(spec, params).predict(inputs, points, ours);
  for (let i = 0; i < ours.length; i++) assert.ok(Math.abs(ours[i] - torchPred[i]) < 1e-4, `value ${i}: ${ours[i]} vs torch ${torchPred[i]}`);
});
