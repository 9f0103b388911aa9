import { InvalidArgumentError } from 'commander';
import { UsageError } from './errors.js';

/**
 * Values of options, parsed once for every command: durations (`--retention 24h`) and
 * points in history (`--as-of 42`, `--as-of 2026-12-01T10:00Z`, `--as-of 2h`).
 */

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "90s", "15m", "24h", "7d", "1h30m", or a number of milliseconds → ms. */
export function parseDuration(text: string, option: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const pattern = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let matched = 0;
  for (let match = pattern.exec(trimmed); match; match = pattern.exec(trimmed)) {
    total += Number(match[1]) * (UNITS[match[2] as string] as number);
    matched = pattern.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) {
    throw new UsageError(`${option}: "${text}" is not a duration (examples: 90s, 15m, 24h, 7d, 1h30m, or milliseconds)`);
  }
  return Math.round(total);
}

/**
 * `--as-of`: a commit number ("42"), a time (anything `Date` reads: "2026-12-01T10:00:00Z",
 * "2026-12-01 10:00"), or a duration meaning that long ago ("2h", "30m").
 */
export function parseAsOf(text: string, now = Date.now()): number | Date {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (/^(\d+(?:\.\d+)?(ms|s|m|h|d|w))+$/.test(trimmed)) return new Date(now - parseDuration(trimmed, '--as-of'));
  const time = Date.parse(trimmed);
  if (Number.isNaN(time)) {
    throw new UsageError(`--as-of: "${text}" is neither a commit number, a time (2026-12-01T10:00:00Z) nor a duration ago (2h)`);
  }
  return new Date(time);
}

/** A positive integer option. */
export function parseCount(text: string, option: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new UsageError(`${option}: "${text}" is not a positive whole number`);
  return Number(text);
}

/** commander argument parsers: our UsageErrors become commander's "invalid argument" (usage, exit status 2). */
export function asOf(text: string): number | Date {
  return wrap(() => parseAsOf(text));
}

export function duration(option: string): (text: string) => number {
  return (text) => wrap(() => parseDuration(text, option));
}

export function count(option: string): (text: string) => number {
  return (text) => wrap(() => parseCount(text, option));
}

function wrap<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof UsageError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}
