import { test } from 'node:test';
import assert from 'node:assert/strict';
import { r2Colour, trainProgressBar } from '../src/cli/train-progress.js';
import type { TrainProgress } from '../src/inr/train.js';

test("R² is coloured in the reference's bands: green > 0.9, yellow > 0.7, orange > 0.3, red below", () => {
  assert.equal(r2Colour(0.95), 'green');
  assert.equal(r2Colour(0.9), 'yellow');
  assert.equal(r2Colour(0.71), 'yellow');
  assert.equal(r2Colour(0.7), 'orange');
  assert.equal(r2Colour(0.31), 'orange');
  assert.equal(r2Colour(0.3), 'red');
  assert.equal(r2Colour(NaN), 'red');
});

function drive(isTTY: boolean, color?: boolean): string {
  let out = '';
  let now = 0;
  const bar = trainProgressBar({ isTTY, write: (s: string) => (out += s) }, { clock: () => now, color });
  const base = { phase: 'step' as const, totalSteps: 100, loss: 0.01, lr: 1e-3, elapsedS: 0 };
  for (let step = 1; step <= 100; step++) {
    now = step * 10; // 100 steps/s
    const p: TrainProgress = { ...base, step };
    if (step % 10 === 0) p.evaluation = { step, r2: step / 100, mse: 0, slope: 1, r2_cod: 0, time_s: 0 };
    if (step === 100) p.phase = 'done';
    bar.onProgress(p);
  }
  bar.finish();
  return out;
}

test('on a terminal: one line redrawn in place, with steps/s, ETA, loss and a coloured R²', () => {
  const out = drive(true, true);
  assert.ok(out.startsWith('\r'));
  assert.ok(out.endsWith('\n'));
  assert.equal(out.split('\n').length, 2, 'a single line');
  assert.match(out, /step 50\/100 \(50%\)  100 steps\/s  ETA 1s  loss 1\.000e-02  R² \x1b\[38;5;208m0\.5000\x1b\[0m/);
  assert.match(out, /R² \x1b\[33m0\.9000\x1b\[0m/); // 0.9 is not > 0.9: yellow
  assert.match(out, /R² \x1b\[32m1\.0000\x1b\[0m/);
  assert.match(out, /R² \x1b\[31m0\.1000/);
});

test('not on a terminal: one plain line per evaluation, no colours, no redraws', () => {
  const out = drive(false);
  const lines = out.trimEnd().split('\n');
  assert.equal(lines.length, 9);
  assert.equal(out.includes('\r') || out.includes('\x1b'), false);
  assert.equal(lines[0], 'step 10/100 (10%)  100 steps/s  ETA 1s  loss 1.000e-02  R² 0.1000');
});
