/**
 * Seeded randomness: xoshiro128** (Blackman and Vigna). Every random choice of a run comes from one
 * of these, seeded from the run's seed, so a run is reproducible from its command line.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    // splitmix32 to spread the seed over the state
    let s = (seed ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next() | 1;
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor((this.nextU32() / 4294967296) * n);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.nextU32() / 4294967296;
  }

  chance(p: number): boolean {
    return this.nextU32() < p * 4294967296;
  }
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/** Seed of the i-th run of a campaign with base seed `base` (stable across shards and resumes). */
export function deriveSeed(base: number, i: number): number {
  const r = new Rng(base, i + 1);
  return r.nextU32() % 2147483647;
}
