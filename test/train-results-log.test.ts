import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResultsLog, parseResultsLog, type ResultsLog } from '../src/inr/results-log.js';
import { pyExp, pyFixed } from '../src/util/pyformat.js';

const known: ResultsLog = {
  field_name: 'velocity',
  inr_type: 'siren_txyz',
  gradient_mode: false,
  final_mse: 0.0012345671,
  final_r2: 0.98765449,
  slope: 0.99123,
  n_cells: 1000,
  n_frames: 9997,
  n_components: 3,
  total_steps: 500000,
  training_time_min: 12.345,
  final_r2_cod: 0.9871234,
  time_limited: false,
  status: 'ok',
};

test('results.log has the reference keys in order, with its formats, then final_r2_cod', () => {
  assert.equal(
    formatResultsLog(known),
    [
      'field_name: velocity',
      'inr_type: siren_txyz',
      'gradient_mode: False',
      'final_mse: 1.234567e-03',
      'final_r2: 0.987654',
      'slope: 0.9912',
      'n_cells: 1000',
      'n_frames: 9997',
      'n_components: 3',
      'total_steps: 500000',
      'training_time_min: 12.3',
      'final_r2_cod: 0.987123',
      '',
    ].join('\n'),
  );
});

test('a time-limited run adds time_limited: True after the reference keys', () => {
  const text = formatResultsLog({ ...known, time_limited: true });
  assert.ok(text.endsWith('final_r2_cod: 0.987123\ntime_limited: True\n'));
});

test('a failed run says status: failed and the reason on one line, its metrics nan', () => {
  const text = formatResultsLog({
    ...known, final_mse: NaN, final_r2: NaN, slope: NaN, final_r2_cod: NaN, training_time_min: 0.04,
    status: 'failed', reason: 'loss is NaN at step 17\n(diverged)',
  });
  assert.equal(
    text,
    [
      'field_name: velocity', 'inr_type: siren_txyz', 'gradient_mode: False',
      'final_mse: nan', 'final_r2: nan', 'slope: nan',
      'n_cells: 1000', 'n_frames: 9997', 'n_components: 3', 'total_steps: 500000', 'training_time_min: 0.0',
      'final_r2_cod: nan', 'status: failed', 'reason: loss is NaN at step 17 (diverged)', '',
    ].join('\n'),
  );
  const back = parseResultsLog(text);
  assert.equal(back.status, 'failed');
  assert.equal(back.reason, 'loss is NaN at step 17 (diverged)');
  assert.ok(Number.isNaN(back.final_r2));
});

test('the parser reads our file back, and a reference file without our keys', () => {
  const back = parseResultsLog(formatResultsLog(known));
  assert.equal(back.final_r2, 0.987654);
  assert.equal(back.final_mse, 1.234567e-3);
  assert.equal(back.slope, 0.9912);
  assert.equal(back.n_frames, 9997);
  assert.equal(back.gradient_mode, false);
  assert.equal(back.status, 'ok');
  assert.equal(back.time_limited, false);
  const reference = formatResultsLog(known).split('\n').slice(0, 11).join('\n') + '\n';
  const r = parseResultsLog(reference);
  assert.ok(Number.isNaN(r.final_r2_cod));
  assert.equal(r.status, 'ok');
  assert.throws(() => parseResultsLog('field_name: velocity\n'), /inr_type is missing/);
  assert.throws(() => parseResultsLog(reference.replace('final_r2: 0.987654', 'final_r2: high')), /final_r2 is not a number/);
});

test("numbers are formatted as Python's format(x, '.Nf') / '.Ne'", () => {
  // Python: f'{x:.6e}'
  assert.equal(pyExp(0.0012345671, 6), '1.234567e-03');
  assert.equal(pyExp(1234567.5, 6), '1.234568e+06'); // exact tie, 7 is odd: to even goes up
  assert.equal(pyExp(1234566.5, 6), '1.234566e+06'); // exact tie, 6 is even: stays
  assert.equal(pyExp(9.9999996, 6), '1.000000e+01');
  assert.equal(pyExp(0, 6), '0.000000e+00');
  assert.equal(pyExp(-0, 6), '-0.000000e+00');
  assert.equal(pyExp(1e-300, 6), '1.000000e-300');
  assert.equal(pyExp(5e-324, 2), '4.94e-324');
  assert.equal(pyExp(NaN, 6), 'nan');
  assert.equal(pyExp(Infinity, 6), 'inf');
  assert.equal(pyExp(-Infinity, 6), '-inf');
  // Python: f'{x:.Nf}'
  assert.equal(pyFixed(0.125, 2), '0.12'); // JavaScript's toFixed says 0.13
  assert.equal(pyFixed(0.375, 2), '0.38');
  assert.equal(pyFixed(2.5, 0), '2');
  assert.equal(pyFixed(3.5, 0), '4');
  assert.equal(pyFixed(0.05, 1), '0.1'); // 0.05 is a little above 0.05 in binary
  assert.equal(pyFixed(12.25, 1), '12.2');
  assert.equal(pyFixed(-0.00000001, 6), '-0.000000');
  assert.equal(pyFixed(0.9999996, 6), '1.000000');
  assert.equal(pyFixed(123456789.123, 4), '123456789.1230');
  assert.equal(pyFixed(NaN, 6), 'nan');
});
