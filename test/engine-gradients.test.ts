import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initParameters, parameterTensors, sirenSpec } from '../src/inr/spec.js';
import { ReferenceModel, finiteDifferences } from './reference/siren.js';
import { availableIsas, frameBatch, gradientsByAdam, maxDiff, openCpu } from './helpers/siren.js';

// A tiny network: every weight and bias can be checked one by one.
const spec = sirenSpec(8, 2, 10);
const points = 16;
const params = initParameters(spec, 11);
const { series, ids, inputs, targets } = frameBatch(points, 12);

const fd = finiteDifferences(spec, params, { inputs, targets, points });

test('the float64 reference gradients agree with finite differences (the yardstick itself)', () => {
  const { grads } = new ReferenceModel(spec, params).lossAndGrads(inputs, targets, points);
  const { diff, scale } = maxDiff(grads, fd);
  assert.ok(diff <= 1e-7 * scale, `reference vs finite differences: ${diff} (scale ${scale})`);
});

for (const isa of availableIsas()) {
  test(`${isa}: every weight and bias gradient matches float64 finite differences`, async () => {
    const model = await openCpu(isa, spec, params, series);
    const { loss, grads } = await gradientsByAdam(model, ids);
    const tensors = parameterTensors(spec);
    assert.equal(grads.length, tensors.length);
    let scale = 0;
    for (const g of fd) for (const x of g) scale = Math.max(scale, Math.abs(x));
    tensors.forEach((t, k) => {
      assert.equal(grads[k].length, fd[k].length, t.name);
      for (let i = 0; i < grads[k].length; i++) {
        // float32 arithmetic against float64 differences: a few float32 ulps of the largest gradient
        // (reading g back from Adam's m adds two float32 roundings, far below that).
        const err = Math.abs(grads[k][i] - fd[k][i]);
        assert.ok(err <= 2e-6 * scale + 1e-5 * Math.abs(fd[k][i]), `${t.name}[${i}]: native ${grads[k][i]}, finite differences ${fd[k][i]}`);
      }
    });
    const refLoss = new ReferenceModel(spec, params).lossAndGrads(inputs, targets, points).loss;
    assert.ok(Math.abs(loss - refLoss) <= 1e-6 * refLoss, `loss ${loss} vs ${refLoss}`);
    await model.dispose();
  });
}
