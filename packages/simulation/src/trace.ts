import { createHash, type Hash } from 'node:crypto';

/**
 * What happened in a run, line by line: every store request's effect and answer, every
 * op's start and outcome, kills, checks. All lines go into a hash (two runs of a seed
 * must give the same hash: that is the determinism test); the last ones are kept to show
 * with a failure.
 */
export class Trace {
  readonly #hash: Hash = createHash('sha256');
  readonly #tail: string[] = [];
  readonly #keep: number;
  #next = 0;
  lines = 0;
  /** The tail as it was when the first finding was written: the story that led to it. */
  #beforeFirstFinding: string[] | undefined;

  constructor(keep = 400) {
    this.#keep = keep;
  }

  /** `time` is virtual ms since the run started. */
  line(time: number, text: string): void {
    const line = `${String(time).padStart(9)} ${text}`;
    this.#hash.update(line);
    this.#hash.update('\n');
    this.lines += 1;
    if (this.#tail.length < this.#keep) this.#tail.push(line);
    else this.#tail[this.#next] = line;
    this.#next = (this.#next + 1) % this.#keep;
  }

  /** Keeps the current tail as the story of the first finding (later calls do nothing). */
  markFinding(): void {
    this.#beforeFirstFinding ??= this.tail();
  }

  /** The last `count` lines before (and including) the first finding, oldest first. */
  tailAtFirstFinding(count = this.#keep): string[] {
    return (this.#beforeFirstFinding ?? []).slice(-count);
  }

  /** The last `count` lines, oldest first. */
  tail(count = this.#keep): string[] {
    const ordered = this.#tail.length < this.#keep ? this.#tail.slice() : [...this.#tail.slice(this.#next), ...this.#tail.slice(0, this.#next)];
    return count > 0 ? ordered.slice(-count) : [];
  }

  digest(): string {
    return this.#hash.copy().digest('hex').slice(0, 16);
  }
}
