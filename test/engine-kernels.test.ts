import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { nativeAddon } from '../src/native/addon.js';
import { initParameters, sirenSpec } from '../src/inr/spec.js';
import { availableIsas, frameBatch, openCpu } from './helpers/siren.js';
import { Rng } from '../src/util/rng.js';

const FLOAT32_MAX = 3.4028234663852886e38;

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

  test(`${isa}: beyond the fast range and up to the largest float32, sin and cos stay accurate, never finite garbage`, () => {
    // A diverging run's pre-activations can take any float32 value. Magnitudes
    // log-uniform from 2^-4 to the largest float32, both signs, plus the
    // edges of the fast reduction's range (2^18) and of its quadrant (2^31 pi/2).
    const rng = new Rng(2);
    const edges = [262144, Math.fround(262144 * (1 + 2 ** -23)), 2 ** 24, 3373259426, 2 ** 31, FLOAT32_MAX];
    const x = new Float32Array(100_003);
    for (let i = 0; i < x.length; i++) {
      const m = i < edges.length ? edges[i] : Math.min(FLOAT32_MAX, 2 ** (-4 + 132 * rng.uniform()));
      x[i] = i % 2 === 0 ? m : -m;
    }
    const s = new Float32Array(x.length), c = new Float32Array(x.length);
    nativeAddon().sincos(isa, x, 1, s, c);
    let worst = 0, at = 0;
    for (let i = 0; i < x.length; i++) {
      const e = Math.max(Math.abs(s[i] - Math.sin(x[i])), Math.abs(c[i] - Math.cos(x[i])));
      if (!(e <= worst)) [worst, at] = [e, x[i]];
    }
    assert.ok(worst <= 2.5e-7, `worst error ${worst} at x = ${at}`);
  });

  test(`${isa}: a model with exploded first-layer weights still predicts within the bound its sine layers set`, async () => {
    // Every hidden activation is a sine, so |y| <= sum |W_out| + |b_out| per
    // output whatever the pre-activations are; finite garbage from the sine
    // epilogue (|sin| up to 1e37) would break that bound by far.
    const spec = sirenSpec(32, 2, 30);
    const params = initParameters(spec, 4);
    params[0].forEach((w, i) => (params[0][i] = w * 10 ** (3 + (i % 30))));
    const { series } = frameBatch(64, 2);
    const model = await openCpu(isa, spec, params, series);
    const ev = await model.evaluate(true);
    await model.dispose();
    const wOut = params[params.length - 2], bOut = params[params.length - 1];
    for (let o = 0; o < spec.outputs; o++) {
      let bound = Math.abs(bOut[o]);
      for (let h = 0; h < spec.hidden; h++) bound += Math.abs(wOut[o * spec.hidden + h]);
      for (let p = o; p < ev.pred!.length; p += spec.outputs) {
        assert.ok(Math.abs(ev.pred![p]) <= bound * (1 + 1e-5), `output ${o} of point ${(p - o) / spec.outputs}: ${ev.pred![p]}, bound ${bound}`);
      }
    }
  });

  test(`${isa}: sin and cos of NaN and infinity are NaN`, () => {
    const x = Float32Array.of(NaN, Infinity, -Infinity, 0);
    const s = new Float32Array(4), c = new Float32Array(4);
    nativeAddon().sincos(isa, x, 1, s, c);
    for (let i = 0; i < 3; i++) assert.ok(Number.isNaN(s[i]) && Number.isNaN(c[i]), `${x[i]}: sin ${s[i]}, cos ${c[i]}`);
    assert.deepEqual([s[3], c[3]], [0, 1]);
  });
}

// The GEMM blocks are cut to the caches the engine reads: on Linux, the
// kernel's own description of cpu0's caches.
const SYS_CACHES = '/sys/devices/system/cpu/cpu0/cache';
test('the engine reads the L1 data and L2 cache sizes this machine reports', { skip: !existsSync(SYS_CACHES) && 'no /sys cache description here' }, () => {
  const size = (level: number): number => {
    for (const index of readdirSync(SYS_CACHES).filter((d) => d.startsWith('index'))) {
      const read = (f: string): string => readFileSync(`${SYS_CACHES}/${index}/${f}`, 'utf8').trim();
      if (Number(read('level')) !== level || read('type') === 'Instruction') continue;
      const m = /^(\d+)([KM]?)$/.exec(read('size'))!;
      return Number(m[1]) * (m[2] === 'K' ? 1024 : m[2] === 'M' ? 1024 * 1024 : 1);
    }
    return 0;
  };
  const { caches } = nativeAddon();
  assert.equal(caches.l1d, size(1) || 32 * 1024);
  assert.equal(caches.l2, size(2) || 512 * 1024);
});
