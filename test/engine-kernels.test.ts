import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeAddon } from '../src/native/addon.js';
import { availableIsas } from './helpers/siren.js';
import { Rng } from '../src/util/rng.js';

// The vectorised sin/cos of the fused sine-layer epilogue, against float64
// Math.sin/cos of the same float32 argument omega * x.
for (const isa of availableIsas()) {
  test(`${isa}: sin and omega cos are accurate to float32 rounding over |omega x| up to 2000`, () => {
    const rng = new Rng(1);
    const n = 200_003; // not a multiple of any vector width
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = (2 * rng.uniform() - 1) * (i % 3 === 0 ? 1 : i % 3 === 1 ? 20 : 200);
    const omega = 10;
    const s = new Float32Array(n), c = new Float32Array(n);
    nativeAddon().sincos(isa, x, omega, s, c);
    let worstS = 0, worstC = 0;
    for (let i = 0; i < n; i++) {
      const arg = Math.fround(Math.fround(omega) * x[i]);
      worstS = Math.max(worstS, Math.abs(s[i] - Math.sin(arg)));
      worstC = Math.max(worstC, Math.abs(c[i] - omega * Math.cos(arg)) / omega);
    }
    // About two float32 ulps of 1.
    assert.ok(worstS <= 2.5e-7, `sin: worst error ${worstS}`);
    assert.ok(worstC <= 2.5e-7, `cos: worst error ${worstC}`);
  });

  test(`${isa}: sin and cos of NaN and infinity are NaN`, () => {
    const x = Float32Array.of(NaN, Infinity, -Infinity, 0);
    const s = new Float32Array(4), c = new Float32Array(4);
    nativeAddon().sincos(isa, x, 1, s, c);
    for (let i = 0; i < 3; i++) assert.ok(Number.isNaN(s[i]) && Number.isNaN(c[i]), `${x[i]}: sin ${s[i]}, cos ${c[i]}`);
    assert.deepEqual([s[3], c[3]], [0, 1]);
  });
}
