import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFERENCE_ADAM } from '../src/inr/engine.js';
import { initParameters, sirenSpec, type SirenSpec } from '../src/inr/spec.js';
import { ReferenceModel } from './reference/siren.js';
import { availableIsas, cosineLr, cpuEngine, maxDiff, randomBatch } from './helpers/siren.js';

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
    test(`${isa}: one training step equals the float64 reference, clipping ${clipping ? 'active' : 'inactive'}`, () => {
      const points = 150;
      const params = initParameters(small, 22);
      const ref = new ReferenceModel(small, params);
      // Targets of amplitude 3 pull the gradient norm far above the clip norm
      // of 1; targets a little off the model's own predictions keep it below.
      const { inputs, targets } = randomBatch(small, points, 21, clipping ? 3 : 0.05);
      if (!clipping) {
        const own = new Float32Array(targets.length);
        ref.predict(inputs, points, own);
        own.forEach((y, i) => (targets[i] += y));
      }
      const lr = 1e-3;
      const native = cpuEngine(isa).createModel(small, params, points);
      const refGrads = ref.gradients(inputs, targets, points).grads;
      const a = native.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
      const b = ref.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
      assert.equal(b.gradNorm > REFERENCE_ADAM.clipNorm, clipping, `the case has gradNorm ${b.gradNorm}`);
      assertClose('loss', a.loss, b.loss, 1e-6);
      assertClose('gradNorm', a.gradNorm, b.gradNorm, 1e-5);
      assertSameStep('after one step', native.getParameters(), ref.getParameters(), refGrads, lr);
      const sn = native.getOptimizerState(), sr = ref.getOptimizerState();
      assert.equal(sn.step, 1);
      const m = maxDiff(sn.m, sr.m), v = maxDiff(sn.v, sr.v);
      // m = (1 - beta1) g and v = (1 - beta2) g^2: gradient precision, doubled for v.
      assert.ok(m.diff <= 2e-6 * m.scale, `Adam m differs by ${m.diff} (scale ${m.scale})`);
      assert.ok(v.diff <= 4e-6 * v.scale, `Adam v differs by ${v.diff} (scale ${v.scale})`);
      native.dispose();
    });
  }

  test(`${isa}: ten steps on a cosine schedule follow the float64 reference`, () => {
    const points = 97;
    const params = initParameters(small, 31);
    const native = cpuEngine(isa).createModel(small, params, points);
    const ref = new ReferenceModel(small, params);
    const total = 10;
    let lrSum = 0;
    for (let s = 0; s < total; s++) {
      const { inputs, targets } = randomBatch(small, points, 100 + s, 1);
      const lr = cosineLr(2e-3, s, total);
      lrSum += lr;
      const a = native.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
      const b = ref.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
      assertClose(`loss at step ${s}`, a.loss, b.loss, 1e-5);
      assertClose(`gradNorm at step ${s}`, a.gradNorm, b.gradNorm, 1e-4);
    }
    assertSameModel('after ten steps', native.getParameters(), ref.getParameters(), lrSum);
    native.dispose();
  });

  test(`${isa}: predict equals the float64 reference, also beyond maxPoints`, () => {
    const spec = sirenSpec(48, 3, 30);
    const points = 333;
    const params = initParameters(spec, 41);
    const { inputs } = randomBatch(spec, points, 42);
    const native = cpuEngine(isa).createModel(spec, params, 100); // predict takes 100 points at a time
    const out = new Float32Array(points * 3), want = new Float32Array(points * 3);
    native.predict(inputs, points, out);
    new ReferenceModel(spec, params).predict(inputs, points, want);
    const { diff, scale } = maxDiff([out], [want]);
    assert.ok(diff <= 2e-6 * scale, `predictions differ by ${diff} (scale ${scale})`);
    native.dispose();
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
];

for (const { spec, points } of edgeShapes) {
  test(`hidden ${spec.hidden}, ${spec.layers} hidden layers, ${points} points: gradients and a step match the reference on every path`, () => {
    const params = initParameters(spec, spec.hidden);
    const { inputs, targets } = randomBatch(spec, points, spec.hidden + 1);
    const ref = new ReferenceModel(spec, params);
    const want = ref.gradients(inputs, targets, points);
    const lr = 1e-3;
    ref.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
    const after = ref.getParameters();
    for (const isa of availableIsas()) {
      const native = cpuEngine(isa).createModel(spec, params, points);
      const got = native.gradients(inputs, targets, points);
      assertClose(`${isa} loss`, got.loss, want.loss, 1e-6);
      const { diff, scale } = maxDiff(got.grads, want.grads);
      assert.ok(diff <= 2e-6 * scale, `${isa}: gradients differ by ${diff} (scale ${scale})`);
      native.trainStep(inputs, targets, points, lr, REFERENCE_ADAM);
      assertSameStep(`${isa} after one step`, native.getParameters(), after, want.grads, lr);
      native.dispose();
    }
  });
}

test('a batch large enough for cache-bypassing stores (over 4 MB per activation) matches the reference on every path', () => {
  // hidden 64 keeps 80 floats per activation row: 13200 points make 1.06 M floats per layer.
  const spec = sirenSpec(64, 1, 15);
  const points = 13_200;
  const params = initParameters(spec, 64);
  const { inputs, targets } = randomBatch(spec, points, 65);
  const ref = new ReferenceModel(spec, params);
  const want = ref.gradients(inputs, targets, points);
  const wantOut = new Float32Array(points * 3);
  ref.predict(inputs, points, wantOut);
  for (const isa of availableIsas()) {
    const native = cpuEngine(isa).createModel(spec, params, points);
    const got = native.gradients(inputs, targets, points);
    assertClose(`${isa} loss`, got.loss, want.loss, 1e-6);
    // float32 sums over 13200 points: rounding grows like sqrt(points), so a wider bound than for 600.
    const g = maxDiff(got.grads, want.grads);
    assert.ok(g.diff <= 1e-5 * g.scale, `${isa}: gradients differ by ${g.diff} (scale ${g.scale})`);
    const out = new Float32Array(points * 3);
    native.predict(inputs, points, out);
    const p = maxDiff([out], [wantOut]);
    assert.ok(p.diff <= 2e-6 * p.scale, `${isa}: predictions differ by ${p.diff} (scale ${p.scale})`);
    native.dispose();
  }
});
