import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuEngine } from '../src/inr/engines/index.js';
import { initParameters, sirenSpec } from '../src/inr/spec.js';
import { REFERENCE_ADAM } from '../src/inr/engine.js';
import { UNIT_SCALING, availableIsas, cosineLr, frameBatch, openCpu, sameBits } from './helpers/siren.js';
import type { IsaName } from '../src/native/addon.js';

const spec = sirenSpec(130, 2, 20);
const cells = 517; // two full gradient chunks and a ragged third; no multiple of any tile height

/** Losses and gradient norms of a short run on a fixed series; step s draws frame s; `split` cuts it into chunks. */
async function lossCurve(isa: IsaName, threads: number, seed: number, steps = 12, split: number[] = [steps]): Promise<{ curve: number[]; params: Float32Array[] }> {
  const { series } = frameBatch(cells, seed * 1000, 1, steps);
  const model = await openCpu(isa, spec, initParameters(spec, seed), series, 1, threads);
  const curve: number[] = [];
  let s = 0;
  for (const n of split) {
    const ids = Int32Array.from({ length: n }, (_, k) => s + k);
    const lrs = Float64Array.from({ length: n }, (_, k) => cosineLr(1e-3, s + k, steps));
    const r = await model.trainChunk(ids, lrs);
    for (let k = 0; k < n; k++) curve.push(r.losses[k], r.gradNorms[k]);
    s += n;
  }
  const params = await model.getParameters();
  await model.dispose();
  return { curve, params };
}

for (const isa of availableIsas()) {
  test(`${isa}: the same seed and thread count give the same loss curve, bit for bit (1 and 2 threads)`, async () => {
    for (const threads of [1, 2]) {
      const a = await lossCurve(isa, threads, 5), b = await lossCurve(isa, threads, 5);
      assert.ok(sameBits(a.curve, b.curve), `${threads} threads: curves differ`);
      a.params.forEach((p, k) => assert.deepEqual(p, b.params[k]));
    }
    const other = await lossCurve(isa, 2, 6);
    assert.ok(!sameBits((await lossCurve(isa, 2, 5)).curve, other.curve), 'another seed gives another curve');
  });

  test(`${isa}: the thread count does not change the result either (fixed tiles, fixed reduction order)`, async () => {
    const one = await lossCurve(isa, 1, 7, 6);
    for (const threads of [2, 3]) {
      const many = await lossCurve(isa, threads, 7, 6);
      assert.ok(sameBits(one.curve, many.curve), `${threads} threads differ from 1`);
    }
  });

  test(`${isa}: how the steps are cut into chunks does not change a bit`, async () => {
    const whole = await lossCurve(isa, 2, 8, 12);
    const cut = await lossCurve(isa, 2, 8, 12, [1, 4, 7]);
    assert.ok(sameBits(whole.curve, cut.curve));
    whole.params.forEach((p, k) => assert.deepEqual(p, cut.params[k]));
  });
}

test('a NaN in the positions or velocities shows up as a NaN loss, never hidden', async () => {
  for (const isa of availableIsas()) {
    for (const where of ['pos', 'vel'] as const) {
      const { series } = frameBatch(cells, 2);
      series[where][(cells + 300) * 3 + 1] = NaN; // frame 1, cell 300
      const model = await openCpu(isa, spec, initParameters(spec, 1), series);
      const r = await model.trainChunk(Int32Array.of(1, 0), Float64Array.of(1e-3, 1e-3));
      assert.ok(Number.isNaN(r.losses[0]), `${isa} ${where}: loss`);
      assert.ok(Number.isNaN(r.gradNorms[0]), `${isa} ${where}: gradNorm`);
      assert.ok(Number.isNaN(r.losses[1]), `${isa} ${where}: the NaN reached the parameters, so the next step is NaN too`);
      await model.dispose();
    }
    // Points are independent in prediction: a NaN position spoils its own row of the evaluation only.
    const { series } = frameBatch(cells, 3);
    series.pos[(2 * cells + 10) * 3] = NaN;
    const model = await openCpu(isa, spec, initParameters(spec, 1), series);
    const ev = await model.evaluate(true);
    ev.pred!.forEach((y, i) => assert.equal(Number.isNaN(y), i >= (2 * cells + 10) * 3 && i < (2 * cells + 11) * 3, `${isa}: pred[${i}] = ${y}`));
    assert.ok(ev.sums.nan && Number.isNaN(ev.frameMse[2]) && !Number.isNaN(ev.frameMse[1]));
    await model.dispose();
  }
});

test('parameters and optimiser state written back continue the run exactly', async () => {
  const { series } = frameBatch(cells, 90, 1, 4);
  const a = await openCpu(availableIsas()[0], spec, initParameters(spec, 9), series);
  await a.trainChunk(Int32Array.of(0, 1), Float64Array.of(1e-3, 1e-3));
  const b = await openCpu(availableIsas()[0], spec, await a.getParameters(), series);
  await b.setOptimizerState(await a.getOptimizerState());
  assert.equal((await b.getOptimizerState()).step, 2);
  const ra = await a.trainChunk(Int32Array.of(2, 3), Float64Array.of(1e-3, 1e-3));
  const rb = await b.trainChunk(Int32Array.of(2, 3), Float64Array.of(1e-3, 1e-3));
  assert.ok(sameBits([...ra.losses, ...ra.gradNorms], [...rb.losses, ...rb.gradNorms]));
  const pa = await a.getParameters(), pb = await b.getParameters();
  pa.forEach((p, k) => assert.deepEqual(p, pb[k]));
});

test('the engine records its name, threads and kernel path; bad calls fail with a clear message', async () => {
  const engine = new CpuEngine({ threads: 1 });
  assert.deepEqual(engine.record, { name: 'cpu', threads: 1, isa: availableIsas()[0] });
  const { series } = frameBatch(10, 1, 0.5, 3);
  const model = await engine.open(spec, initParameters(spec, 1), { series, scaling: UNIT_SCALING(3), batch: 2, adam: REFERENCE_ADAM });
  await assert.rejects(model.trainChunk(Int32Array.of(0, 1, 2), Float64Array.of(1e-3, 1e-3)), /3 frame ids for 2 steps of 2/);
  await assert.rejects(model.trainChunk(Int32Array.of(0, 3), Float64Array.of(1e-3)), /frame index outside the series/);
  await assert.rejects(model.setParameters(initParameters(sirenSpec(64, 2, 20), 1)), /net\.0\.linear\.weight needs 520 values/);
  await model.dispose();
  await assert.rejects(model.evaluate(false), /disposed/);
  assert.throws(() => new CpuEngine({ threads: 0 }), /threads must be a positive integer/);
});

test('INRSCAPE_ISA lowers the kernel path; an unknown or unsupported path is refused', () => {
  const saved = process.env.INRSCAPE_ISA;
  try {
    for (const isa of availableIsas()) {
      process.env.INRSCAPE_ISA = isa;
      assert.equal(new CpuEngine().isa, isa);
    }
    process.env.INRSCAPE_ISA = 'sse9';
    assert.throws(() => new CpuEngine(), /unknown ISA 'sse9'/);
  } finally {
    if (saved === undefined) delete process.env.INRSCAPE_ISA;
    else process.env.INRSCAPE_ISA = saved;
  }
  if (availableIsas()[0] !== 'avx512') assert.throws(() => new CpuEngine({ isa: 'avx512' }), /cannot run the avx512 path/);
});
