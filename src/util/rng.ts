/**
 * xoshiro128** (Blackman & Vigna): a small, fast generator whose 32-bit
 * arithmetic is exact in JavaScript, so the same seed gives the same stream on
 * every machine. Seeded through splitmix32 so nearby seeds give unrelated streams.
 * native/dicty.cc carries the same stream in C++.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed: number) {
    let z = seed >>> 0;
    const next = (): number => {
      z = (z + 0x9e3779b9) >>> 0;
      let t = z ^ (z >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  save(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.hasSpare ? this.spare : null };
  }

  static restore(state: RngState): Rng {
    const rng = new Rng(0);
    [rng.s0, rng.s1, rng.s2, rng.s3] = state.s;
    rng.hasSpare = state.spare !== null;
    rng.spare = state.spare ?? 0;
    return rng;
  }

  /** Uniform integer in [0, n), unbiased (rejection on the 32-bit stream). */
  below(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const u = this.nextU32();
      if (u < limit) return u % n;
    }
  }

  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal by Box-Muller, both values used. */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const u = (this.nextU32() + 1) / 4294967297; // (0, 1): log never sees 0
    const v = this.nextU32() / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u));
    const a = 2 * Math.PI * v;
    this.spare = r * Math.sin(a);
    this.hasSpare = true;
    return r * Math.cos(a);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** The four state words, for checkpoints; `restore` continues the stream exactly. */
export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}
