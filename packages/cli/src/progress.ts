import cliProgress from 'cli-progress';

/**
 * Progress of a long command, on stderr (stdout may carry the data itself: `export … -`).
 * On a terminal, a bar with bytes, rate and ETA (cli-progress); otherwise a plain line
 * at most every PLAIN_INTERVAL_MS and one at the end, which a log file can keep; with
 * `--quiet`, nothing.
 */
export interface Progress {
  /** Sets or changes what is being counted (and its total, when known). */
  phase(label: string, total?: number): void;
  /** The count so far (bytes, or objects with `unit: 'objects'`). */
  update(done: number): void;
  /** The last update, then the bar's final line. */
  stop(): void;
}

export interface ProgressOptions {
  quiet?: boolean;
  /** What is counted: bytes (shown as KiB/MiB, with a rate) or objects. */
  unit?: 'bytes' | 'objects';
  stream?: NodeJS.WriteStream;
  /** Force the plain lines or the bar (default: the bar when the stream is a terminal). */
  tty?: boolean;
}

const PLAIN_INTERVAL_MS = 1000;

export function createProgress(options: ProgressOptions = {}): Progress {
  if (options.quiet) return { phase: () => undefined, update: () => undefined, stop: () => undefined };
  const stream = options.stream ?? process.stderr;
  const unit = options.unit ?? 'bytes';
  const tty = options.tty ?? stream.isTTY === true;
  return tty ? new BarProgress(stream, unit) : new PlainProgress(stream, unit);
}

class Rate {
  #started = performance.now();
  reset(): void {
    this.#started = performance.now();
  }
  /** Units per second since the phase began. */
  of(done: number): number {
    const seconds = (performance.now() - this.#started) / 1000;
    return seconds > 0 ? done / seconds : 0;
  }
}

class BarProgress implements Progress {
  #bar: cliProgress.SingleBar | undefined;
  #label = '';
  #total: number | undefined;
  #done = 0;
  readonly #rate = new Rate();

  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly unit: 'bytes' | 'objects',
  ) {}

  phase(label: string, total?: number): void {
    if (this.#bar && label === this.#label && total === this.#total) return;
    this.#bar?.stop();
    this.#label = label;
    this.#total = total;
    this.#done = 0;
    this.#rate.reset();
    const known = total !== undefined;
    this.#bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: known ? '{label} [{bar}] {percentage}% | {doneText} of {totalText} | {rateText} | ETA {eta_formatted}' : '{label} {doneText} | {rateText}',
        hideCursor: true,
        etaBuffer: 50,
        fps: 8,
      },
      cliProgress.Presets.shades_classic,
    );
    this.#bar.start(total ?? 0, 0, this.#payload(0));
  }

  update(done: number): void {
    this.#done = done;
    this.#bar?.update(done, this.#payload(done));
  }

  stop(): void {
    if (!this.#bar) return;
    this.#bar.update(this.#done, this.#payload(this.#done));
    this.#bar.stop();
    this.#bar = undefined;
  }

  #payload(done: number): Record<string, string> {
    return {
      label: this.#label,
      doneText: formatAmount(done, this.unit),
      totalText: formatAmount(this.#total ?? 0, this.unit),
      rateText: `${formatAmount(this.#rate.of(done), this.unit)}/s`,
    };
  }
}

class PlainProgress implements Progress {
  #label = '';
  #total: number | undefined;
  #done = 0;
  #printedAt = 0;
  #printedDone = -1;
  readonly #rate = new Rate();

  constructor(
    readonly stream: NodeJS.WriteStream,
    readonly unit: 'bytes' | 'objects',
  ) {}

  phase(label: string, total?: number): void {
    if (label === this.#label && total === this.#total) return;
    if (this.#label !== '') this.#print();
    this.#label = label;
    this.#total = total;
    this.#done = 0;
    this.#printedDone = -1;
    this.#printedAt = performance.now();
    this.#rate.reset();
  }

  update(done: number): void {
    this.#done = done;
    if (performance.now() - this.#printedAt >= PLAIN_INTERVAL_MS) this.#print();
  }

  stop(): void {
    if (this.#label !== '') this.#print();
  }

  #print(): void {
    // A phase that counted nothing (a listing of an empty prefix) is not worth a line.
    if (this.#done === this.#printedDone || this.#done === 0) return;
    this.#printedDone = this.#done;
    this.#printedAt = performance.now();
    const rate = this.#rate.of(this.#done);
    const parts = [`${this.#label}: ${formatAmount(this.#done, this.unit)}`];
    if (this.#total !== undefined) {
      parts[0] += ` of ${formatAmount(this.#total, this.unit)} (${this.#total > 0 ? Math.floor((this.#done / this.#total) * 100) : 100}%)`;
    }
    if (this.unit === 'bytes') parts.push(`${formatAmount(rate, this.unit)}/s`);
    if (this.#total !== undefined && rate > 0 && this.#done < this.#total) parts.push(`ETA ${formatSeconds((this.#total - this.#done) / rate)}`);
    this.stream.write(`${parts.join(', ')}\n`);
  }
}

/** 1536 → "1.5 KiB"; objects as a plain count. */
export function formatAmount(value: number, unit: 'bytes' | 'objects' = 'bytes'): string {
  if (unit === 'objects') return `${Math.round(value)} objects`;
  return formatBytes(value);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i += 1;
  }
  return i === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[i]}`;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
