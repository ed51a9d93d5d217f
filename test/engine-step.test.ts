import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFERENCE_ADAM } from '../src/inr/engine.js';
import { initParameters, sirenSpec, type SirenSpec } from '../src/inr/spec.js';
import { ReferenceModel } from './reference/siren.js';
import { availableIsas, cosineLr, frameBatch, gradientsByAdam, maxDiff, openCpu, withInputs } from './helpers/siren.js';
import { computeMetrics, metricsOf } from '../src/inr/metrics.js';

// "To float32 rounding", carried through Adam: a first Adam step moves each
// parameter by lr g / (|g| + eps), so a gradient known to float32 precision
// (a few ulps of the largest gradient, as in engine-gradients) fixes the step
// to lr * gradTol / (|g| + eps); on top come a few float32 ulps of the
// parameters themselves.
function assertSameStep(label: string, native: Float32Array[], reference: Float32Array[], refGrads: Float32Array[], lr: number): void {
  const gScale = maxDiff(refGrads, refGrads).scale, pScale = maxDiff(reference, reference).scale;
  const gradTol = 2e-6 * gScale;
  native.forEach((p, k) => {
    for (let i = 0; i < p.length; i++) {
      const tol = 4e-7 * pScale + lr * Math.min(2, gradTol / (Math.abs(refGrads[k][i]) + REFERENCE_ADAM.eps));
      assert.ok(Math.abs(p[i] - reference[k][i]) <= tol, `${label}: tensor ${k}[${i}] is ${p[i]}, reference ${reference[k][i]} (gradient ${refGrads[k][i]})`);
    }
  });
}

// After several steps Adam's moments blur that per-parameter picture: compare
// against the largest parameter and a small fraction of the summed step sizes.
function assertSameModel(label: string, native: Float32Array[], reference: Float32Array[], lrSum: number): void {
  const { diff, scale } = maxDiff(native, reference);
  assert.ok(diff <= 4e-7 * scale + 1e-3 * lrSum, `${label}: parameters differ by ${diff} (scale ${scale}, summed lr ${lrSum})`);
}

function assertClose(label: string, a: number, b: number, rel: number): void {
  assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${label}: ${a} vs ${b}`);
}

const small = sirenSpec(32, 2, 10);

for (const isa of availableIsas()) {
  for (const clipping of [false, true]) {
    test(`${isa}: one training step equals the float64 reference, clipping ${clipping ? 'active' : 'inactive'}`, async () => {
      const points = 150;
      const params = initParameters(small, 22);
      const ref = new ReferenceModel(small, params);
      // Targets of amplitude 3 pull the gradient norm far above the clip norm
      // of 1; targets a little off the model's own predictions keep it below.
      let batch = frameBatch(points, 21, clipping ? 3 : 0.05);
      if (!clipping) {
        const own = new Float32Array(batch.targets.length);
        ref.predict(batch.inputs, points, own);
        const vel = batch.series.vel.subarray(points * 3, 2 * points * 3); // frame 1, the one the step draws
        own.forEach((y, i) => (vel[i] += y));
        batch = withInputs(batch.series, batch.ids);
      }
      const { inputs, targets } = batch;
      const lr = 1e-3;
      const native = await openCpu(isa, small, params, batch.series);
      const refGrads = ref.gradients(inputs, targets, points).grads;
      const r = await native.trainChunk(batch.ids, Float64Array.of(lr));
      const b = ref.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
      assert.equal(b.gradNorm > REFERENCE_ADAM.clipNorm, clipping, `the case has gradNorm ${b.gradNorm}`);
      assertClose('loss', r.losses[0], b.loss, 1e-6);
      assertClose('gradNorm', r.gradNorms[0], b.gradNorm, 1e-5);
      assertSameStep('after one step', await native.getParameters(), ref.getParameters(), refGrads, lr);
      const sn = await native.getOptimizerState(), sr = ref.getOptimizerState();
      assert.equal(sn.step, 1);
      const m = maxDiff(sn.m, sr.m), v = maxDiff(sn.v, sr.v);
      // m = (1 - beta1) g and v = (1 - beta2) g^2: gradient precision, doubled for v.
      assert.ok(m.diff <= 2e-6 * m.scale, `Adam m differs by ${m.diff} (scale ${m.scale})`);
      assert.ok(v.diff <= 4e-6 * v.scale, `Adam v differs by ${v.diff} (scale ${v.scale})`);
      await native.dispose();
    });
  }

  test(`${isa}: ten steps on a cosine schedule, in one chunk, follow the float64 reference`, async () => {
    const points = 97;
    const total = 10;
    const params = initParameters(small, 31);
    const { series } = frameBatch(points, 100, 1, total);
    const native = await openCpu(isa, small, params, series);
    const ref = new ReferenceModel(small, params);
    const ids = Int32Array.from({ length: total }, (_, s) => (7 * s + 3) % total);
    const lrs = Float64Array.from({ length: total }, (_, s) => cosineLr(2e-3, s, total));
    const r = await native.trainChunk(ids, lrs);
    for (let s = 0; s < total; s++) {
      const { inputs, targets } = withInputs(series, ids.subarray(s, s + 1));
      const b = ref.trainStep(inputs, targets, points, lrs[s], REFERENCE_ADAM);
      assertClose(`loss at step ${s}`, r.losses[s], b.loss, 1e-5);
      assertClose(`gradNorm at step ${s}`, r.gradNorms[s], b.gradNorm, 1e-4);
    }
    assertSameModel('after ten steps', await native.getParameters(), ref.getParameters(), lrs.reduce((a, x) => a + x, 0));
    await native.dispose();
  });

  test(`${isa}: an evaluation over several chunks of frames equals the float64 reference`, async () => {
    const spec = sirenSpec(48, 3, 30);
    const cells = 700, frames = 50; // 35,000 points: two evaluation chunks, the second ragged
    const params = initParameters(spec, 41);
    const { series } = frameBatch(cells, 42, 0.5, frames);
    const native = await openCpu(isa, spec, params, series);
    const ev = await native.evaluate(true);
    const all = withInputs(series, Int32Array.from({ length: frames }, (_, f) => f));
    const want = new Float32Array(all.points * 3);
    new ReferenceModel(spec, params).predict(all.inputs, all.points, want);
    const { diff, scale } = maxDiff([ev.pred!], [want]);
    assert.ok(diff <= 2e-6 * scale, `predictions differ by ${diff} (scale ${scale})`);
    const m = computeMetrics(series.vel, want);
    assertClose('MSE from the engine sums', metricsOf(ev.sums).mse, m.mse, 1e-5);
    assert.equal(ev.sums.n, frames * cells * 3);
    for (const f of [0, 31, 49]) {
      let s = 0;
      for (let i = f * cells * 3; i < (f + 1) * cells * 3; i++) s += (ev.pred![i] - series.vel[i]) ** 2;
      assertClose(`frame ${f} MSE`, ev.frameMse[f], s / (cells * 3), 1e-12);
    }
    const without = await native.evaluate(false);
    assert.equal(without.pred, undefined);
    assert.deepEqual(without.frameMse, ev.frameMse);
    await native.dispose();
  });
}

// Shapes where the register tiles, panels and cache blocks have ragged
// edges: widths below, at and just above a panel, and point counts that are
// no multiple of any tile height (and above the 256-point gradient chunk).
const edgeShapes: Array<{ spec: SirenSpec; points: number }> = [
  { spec: sirenSpec(8, 1, 10), points: 7 },
  { spec: sirenSpec(100, 2, 20), points: 601 },
  { spec: sirenSpec(128, 2, 10), points: 259 },
  { spec: sirenSpec(130, 1, 10), points: 203 },
  { spec: sirenSpec(384, 1, 10), points: 61 },
  // The row GEMMs split K into chunks that carry partial sums in C where a
  // row tile's micro-panel (mr x K) is over 5/4 of L1 (gemm.cc): K = 1101
  // for avx512 (mr 14) wherever L1d is at most 48 KiB, and K = 4001, a head
  // without hidden layers between, for every path there (mr 4 to 14).
  { spec: sirenSpec(1100, 1, 10), points: 13 },
  { spec: sirenSpec(4000, 0, 10), points: 13 },
];

for (const { spec, points } of edgeShapes) {
  test(`hidden ${spec.hidden}, ${spec.layers} hidden layers, ${points} points: gradients and a step match the reference on every path`, async () => {
    const params = initParameters(spec, spec.hidden);
    const { series, ids, inputs, targets } = frameBatch(points, spec.hidden + 1);
    const ref = new ReferenceModel(spec, params);
    const want = ref.gradients(inputs, targets, points);
    const lr = 1e-3;
    ref.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
    const after = ref.getParameters();
    for (const isa of availableIsas()) {
      const probe = await openCpu(isa, spec, params, series);
      const got = await gradientsByAdam(probe, ids);
      await probe.dispose();
      assertClose(`${isa} loss`, got.loss, want.loss, 1e-6);
      const { diff, scale } = maxDiff(got.grads, want.grads);
      assert.ok(diff <= 2e-6 * scale, `${isa}: gradients differ by ${diff} (scale ${scale})`);
      const native = await openCpu(isa, spec, params, series);
      await native.trainChunk(ids, Float64Array.of(lr));
      assertSameStep(`${isa} after one step`, await native.getParameters(), after, want.grads, lr);
      await native.dispose();
    }
  });
}

test('a batch large enough for cache-bypassing stores (over 4 MB per activation) matches the reference on every path', async () => {
  // hidden 64 keeps 80 floats per activation row: 13200 points make 1.06 M floats per layer.
  const spec = sirenSpec(64, 1, 15);
  const points = 13_200;
  const params = initParameters(spec, 64);
  const { series, ids, inputs, targets } = frameBatch(points, 65, 0.5, 2);
  const ref = new ReferenceModel(spec, params);
  const want = ref.gradients(inputs, targets, points);
  const all = withInputs(series, Int32Array.of(0, 1));
  const wantOut = new Float32Array(all.points * 3);
  ref.predict(all.inputs, all.points, wantOut);
  for (const isa of availableIsas()) {
    const native = await openCpu(isa, spec, params, series);
    const ev = await native.evaluate(true);
    const p = maxDiff([ev.pred!], [wantOut]);
    assert.ok(p.diff <= 2e-6 * p.scale, `${isa}: predictions differ by ${p.diff} (scale ${p.scale})`);
    const got = await gradientsByAdam(native, ids);
    assertClose(`${isa} loss`, got.loss, want.loss, 1e-6);
    // float32 sums over 13200 points: rounding grows like sqrt(points), so a wider bound than for 600.
    const g = maxDiff(got.grads, want.grads);
    assert.ok(g.diff <= 1e-5 * g.scale, `${isa}: gradients differ by ${g.diff} (scale ${g.scale})`);
    await native.dispose();
  }
});
