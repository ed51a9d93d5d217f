import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFERENCE_ADAM } from '../src/inr/engine.js';
import { createEngine } from '../src/inr/engines/index.js';
import { initParameters, sirenSpec } from '../src/inr/spec.js';
import { availableIsas, cosineLr, cpuEngine, randomBatch, sameBits } from './helpers/siren.js';
import type { IsaName } from '../src/native/addon.js';

const spec = sirenSpec(130, 2, 20);
const points = 517; // two full gradient chunks and a ragged third; no multiple of any tile height

/** Losses and gradient norms of a short run, every batch drawn from the seed. */
function lossCurve(isa: IsaName, threads: number, seed: number, steps = 12): { curve: number[]; params: Float32Array[] } {
  const model = cpuEngine(isa, threads).createModel(spec, initParameters(spec, seed), points);
  const curve: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { inputs, targets } = randomBatch(spec, points, seed * 1000 + s, 1);
    const r = model.trainStep(inputs, targets, points, cosineLr(1e-3, s, steps), REFERENCE_ADAM);
    curve.push(r.loss, r.gradNorm);
  }
  const params = model.getParameters();
  model.dispose();
  return { curve, params };
}

for (const isa of availableIsas()) {
  test(`${isa}: the same seed and thread count give the same loss curve, bit for bit (1 and 2 threads)`, () => {
    for (const threads of [1, 2]) {
      const a = lossCurve(isa, threads, 5), b = lossCurve(isa, threads, 5);
      assert.ok(sameBits(a.curve, b.curve), `${threads} threads: curves differ`);
      a.params.forEach((p, k) => assert.deepEqual(p, b.params[k]));
    }
    const other = lossCurve(isa, 2, 6);
    assert.ok(!sameBits(lossCurve(isa, 2, 5).curve, other.curve), 'another seed gives another curve');
  });

  test(`${isa}: the thread count does not change the result either (fixed tiles, fixed reduction order)`, () => {
    const one = lossCurve(isa, 1, 7, 6);
    for (const threads of [2, 3]) {
      const many = lossCurve(isa, threads, 7, 6);
      assert.ok(sameBits(one.curve, many.curve), `${threads} threads differ from 1`);
    }
  });
}

test('a NaN in the inputs or targets shows up as a NaN loss, never hidden', () => {
  for (const isa of availableIsas()) {
    const engine = cpuEngine(isa);
    for (const where of ['inputs', 'targets'] as const) {
      const model = engine.createModel(spec, initParameters(spec, 1), points);
      const batch = randomBatch(spec, points, 2);
      batch[where][where === 'inputs' ? 4 * 300 + 2 : 3 * 300 + 1] = NaN;
      assert.ok(Number.isNaN(model.gradients(batch.inputs, batch.targets, points).loss), `${isa} ${where}: gradients`);
      const r = model.trainStep(batch.inputs, batch.targets, points, 1e-3, REFERENCE_ADAM);
      assert.ok(Number.isNaN(r.loss), `${isa} ${where}: trainStep loss`);
      assert.ok(Number.isNaN(r.gradNorm), `${isa} ${where}: trainStep gradNorm`);
      model.dispose();
    }
    // Points are independent in predict: the NaN stays in its own row.
    const model = engine.createModel(spec, initParameters(spec, 1), points);
    const { inputs } = randomBatch(spec, points, 3);
    inputs[4 * 10] = NaN;
    const out = new Float32Array(points * 3);
    model.predict(inputs, points, out);
    out.forEach((y, i) => assert.equal(Number.isNaN(y), Math.floor(i / 3) === 10, `${isa}: out[${i}] = ${y}`));
    model.dispose();
  }
});

test('parameters and optimiser state written back continue the run exactly', () => {
  const engine = createEngine('cpu', { threads: 2 });
  const a = engine.createModel(spec, initParameters(spec, 9), points);
  const batches = [0, 1, 2, 3].map((s) => randomBatch(spec, points, 90 + s, 1));
  for (const b of batches.slice(0, 2)) a.trainStep(b.inputs, b.targets, points, 1e-3, REFERENCE_ADAM);
  const b = engine.createModel(spec, a.getParameters(), points);
  b.setOptimizerState(a.getOptimizerState());
  assert.equal(b.getOptimizerState().step, 2);
  for (const batch of batches.slice(2)) {
    const ra = a.trainStep(batch.inputs, batch.targets, points, 1e-3, REFERENCE_ADAM);
    const rb = b.trainStep(batch.inputs, batch.targets, points, 1e-3, REFERENCE_ADAM);
    assert.ok(sameBits([ra.loss, ra.gradNorm], [rb.loss, rb.gradNorm]));
  }
  a.getParameters().forEach((p, k) => assert.deepEqual(p, b.getParameters()[k]));
});

test('the engine reports its name, threads and kernel path; bad calls fail with a clear message', () => {
  const engine = createEngine('cpu', { threads: 1 });
  assert.equal(engine.name, 'cpu');
  assert.equal(engine.threads, 1);
  assert.equal(engine.isa, availableIsas()[0]);
  const model = engine.createModel(spec, initParameters(spec, 1), 10);
  const { inputs, targets } = randomBatch(spec, 20, 1);
  assert.throws(() => model.trainStep(inputs, targets, 11, 1e-3, REFERENCE_ADAM), /points must be an integer in \[1, 10\]/);
  assert.throws(() => model.trainStep(inputs, targets, 0, 1e-3, REFERENCE_ADAM), /points/);
  assert.throws(() => model.setParameters(initParameters(sirenSpec(64, 2, 20), 1)), /net\.0\.linear\.weight needs 520 values/);
  model.dispose();
  assert.throws(() => model.predict(inputs, 1, new Float32Array(3)), /disposed/);
  assert.throws(() => createEngine('cpu', { threads: 0 }), /threads must be a positive integer/);
});

test('INRSCAPE_ISA lowers the kernel path; an unknown or unsupported path is refused', () => {
  const saved = process.env.INRSCAPE_ISA;
  try {
    for (const isa of availableIsas()) {
      process.env.INRSCAPE_ISA = isa;
      assert.equal(createEngine('cpu').isa, isa);
    }
    process.env.INRSCAPE_ISA = 'sse9';
    assert.throws(() => createEngine('cpu'), /unknown ISA 'sse9'/);
  } finally {
    if (saved === undefined) delete process.env.INRSCAPE_ISA;
    else process.env.INRSCAPE_ISA = saved;
  }
  if (availableIsas()[0] !== 'avx512') assert.throws(() => createEngine('cpu', { isa: 'avx512' }), /cannot run the avx512 path/);
});
