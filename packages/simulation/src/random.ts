import { mulberry32 } from '@blockvfs/core/testing';

/**
 * A seeded random stream: the only source of choices in a simulation run. Streams are
 * forked by label (the swarm, each process's plan, the store's fates…) so that a change
 * to one part of a run (one fault kind switched off, one op dropped) does not reshuffle
 * every other choice: that is what makes a failing seed shrinkable by hand.
 */
export class Random {
  readonly seed: number;
  readonly #next: () => number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#next = mulberry32(this.seed);
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.#next();
  }

  /** An integer in [low, high] (both included). */
  int(low: number, high: number): number {
    return low + Math.floor(this.#next() * (high - low + 1));
  }

  /** True with probability `p`. A stream always draws, whatever `p`, so that choices after it do not shift. */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.#next() * items.length)] as T;
  }

  /** One of `entries`, with probability proportional to its weight. */
  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T {
    const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
    let draw = this.#next() * total;
    for (const [value, weight] of entries) {
      if (draw < weight) return value;
      draw -= weight;
    }
    return (entries[entries.length - 1] as readonly [T, number])[0];
  }

  /** A value spread over orders of magnitude: log-uniform in [low, high]. */
  logUniform(low: number, high: number): number {
    return Math.round(Math.exp(Math.log(low) + this.#next() * (Math.log(high) - Math.log(low))));
  }

  /** Fills `bytes` with random bytes. */
  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i += 4) {
      const word = Math.floor(this.#next() * 2 ** 32);
      for (let j = 0; j < 4 && i + j < bytes.length; j++) bytes[i + j] = (word >>> (8 * j)) & 0xff;
    }
    return bytes;
  }

  /** An independent stream named `label`: the same (seed, label) always gives the same stream. */
  fork(label: string): Random {
    return new Random(mix(this.seed, label));
  }
}

/** FNV-1a of `label`, mixed with `seed` (murmur3's finaliser), so that nearby seeds give unrelated streams. */
function mix(seed: number, label: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
