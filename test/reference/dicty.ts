import type { ModelParams } from '../../src/config/dicty-model.js';
import { Rng } from '../../src/util/rng.js';

/**
 * An independent float64 oracle of the dicty model for tests: brute-force
 * O(N^2) minimum-image pairs, two exps per gate, every formula written out
 * from docs/data.md. It shares only the random stream with native/dicty.cc.
 */
export class DictyReference {
  x: Float64Array;
  p: Float64Array;
  force: Float64Array;
  centres: Float64Array;
  axes: Float64Array;
  t = 0;
  private rng: Rng;

  constructor(readonly prm: ModelParams, seed: number) {
    const n = prm.cells;
    this.rng = new Rng(seed);
    this.x = new Float64Array(3 * n).map(() => this.rng.uniform() * prm.box);
    this.p = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) this.setUnit(this.p, i, this.rng.normal(), this.rng.normal(), this.rng.normal());
    this.force = new Float64Array(3 * n);
    this.centres = new Float64Array(3 * prm.centres).map(() => this.rng.uniform() * prm.box);
    this.axes = new Float64Array(3 * prm.centres);
    for (let c = 0; c < prm.centres; c++) this.setUnit(this.axes, c, this.rng.normal(), this.rng.normal(), this.rng.normal());
  }

  private setUnit(v: Float64Array, i: number, a: number, b: number, c: number): void {
    const norm = Math.sqrt(a * a + b * b + c * c);
    v[3 * i] = a / norm;
    v[3 * i + 1] = b / norm;
    v[3 * i + 2] = c / norm;
  }

  private minImage(d: number): number {
    return d - this.prm.box * Math.round(d / this.prm.box);
  }

  /** Scalar force along rhat_ij: spring repulsion below r0, sigmoid-gated adhesion between r0 and r_on. */
  pairForce(r: number): number {
    const { k_rep, r0, k_adh, r_on, adh_width: w } = this.prm;
    const rep = r < r0 ? -k_rep * (r0 - r) : 0;
    const gate = 1 / (1 + Math.exp(-(r - r0) / w)) / (1 + Math.exp((r - r_on) / w));
    return rep + k_adh * gate * (r - r0);
  }

  computeForces(): void {
    const n = this.prm.cells;
    this.force.fill(0);
    for (let i = 0; i < n; i++)
      for (let j = i + 1; j < n; j++) {
        const d = [0, 1, 2].map((k) => this.minImage(this.x[3 * j + k] - this.x[3 * i + k]));
        const r = Math.hypot(d[0], d[1], d[2]);
        if (r >= this.prm.max_radius || r === 0) continue;
        const s = this.pairForce(r) / r;
        for (let k = 0; k < 3; k++) {
          this.force[3 * i + k] += s * d[k];
          this.force[3 * j + k] -= s * d[k];
        }
      }
  }

  /** The chemotactic signal at cell i: wave-gated pull toward each centre, a swirl inside its mound. */
  signal(i: number): number[] {
    const { wave_period, wavelength, mound_radius, swirl } = this.prm;
    const s = [0, 0, 0];
    for (let c = 0; c < this.prm.centres; c++) {
      const d = [0, 1, 2].map((k) => this.minImage(this.centres[3 * c + k] - this.x[3 * i + k]));
      const rc = Math.hypot(d[0], d[1], d[2]) + 1e-9;
      const w = 0.5 * (1 + Math.cos(2 * Math.PI * (this.t / wave_period - rc / wavelength)));
      const g = w ** 4 / (1 + rc) / rc;
      const inner = Math.min(1, rc / mound_radius);
      const a = [this.axes[3 * c], this.axes[3 * c + 1], this.axes[3 * c + 2]];
      const tan = [a[1] * d[2] - a[2] * d[1], a[2] * d[0] - a[0] * d[2], a[0] * d[1] - a[1] * d[0]];
      const tn = Math.hypot(tan[0], tan[1], tan[2]) + 1e-12;
      for (let k = 0; k < 3; k++) s[k] += g * inner * d[k] + ((1 - inner * inner) * swirl * tan[k]) / tn;
    }
    return s;
  }

  frame(): void {
    const { cells: n, dt, turn_rate, rot_diffusion, substeps, v0, mu, box } = this.prm;
    const signals = Array.from({ length: n }, (_, i) => this.signal(i));
    const noise = Math.sqrt(2 * rot_diffusion * dt);
    for (let i = 0; i < n; i++) {
      const s = signals[i];
      const p = [this.p[3 * i], this.p[3 * i + 1], this.p[3 * i + 2]];
      const along = s[0] * p[0] + s[1] * p[1] + s[2] * p[2];
      const q = [0, 1, 2].map((k) => p[k] + turn_rate * (s[k] - along * p[k]) * dt + noise * this.rng.normal());
      this.setUnit(this.p, i, q[0], q[1], q[2]);
    }
    const h = dt / substeps;
    for (let sub = 0; sub < substeps; sub++) {
      this.computeForces();
      for (let k = 0; k < 3 * n; k++) {
        const v = this.x[k] + h * (v0 * this.p[k] + mu * this.force[k]);
        this.x[k] = v - box * Math.floor(v / box);
      }
      this.t += h;
    }
  }
}
