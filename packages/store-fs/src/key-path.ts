import { keyProblem } from '@blockvfs/core/store';
import { join } from 'node:path';

/**
 * How keys become paths under the root.
 *
 * Every '/'-separated segment of a key is encoded to a file name of ASCII letters
 * a–z, digits, '.', '-' and '_', with every other UTF-8 byte written as `%XX`
 * (upper-case hex) — upper-case letters included. So:
 * - no key can name a path outside the root or a special name: '/', '\\' and NUL are
 *   escaped, and '.'/'..' segments are refused;
 * - file names are the same on case-insensitive (macOS, Windows) and
 *   Unicode-normalising (macOS) file systems, where 'A' and 'a', or two spellings of
 *   'é', would otherwise collide;
 * - '~' never appears in an encoded segment, so it is free to mark what is not an
 *   object: a directory holding the keys under `seg/` is `seg~`, so that key 'a' (the
 *   file `a`) and key 'a/b' (the file `a~/b`) coexist; temp files are `seg~tmp~…`
 *   and lock files `seg~lock`, which listing skips.
 */

const LITERAL = /^[a-z0-9._-]$/;
/** Room left in a 255-byte file name for the `~tmp~<pid>~<random>` suffix of a temp file. */
export const MAX_ENCODED_SEGMENT = 200;

/** With the `u` flag, paired surrogates are one code point: only a lone one matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;

export const DIR_SUFFIX = '~';
export const LOCK_SUFFIX = '~lock';
export const TEMP_INFIX = '~tmp~';

export function encodeSegment(segment: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(segment)) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && LITERAL.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The segment a file name encodes, or undefined when the name is not one this store wrote. */
export function decodeSegment(name: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const char = name.charAt(i);
    if (char === '%') {
      const hex = name.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (LITERAL.test(char)) {
      bytes.push(char.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  let segment: string;
  try {
    segment = strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
  // Only the canonical spelling is ours ('%61' would decode to 'a', which is spelled 'a').
  return encodeSegment(segment) === name ? segment : undefined;
}

/** Why a key cannot be stored as a path, or undefined when it can. */
export function pathKeyProblem(key: unknown): string | undefined {
  const problem = keyProblem(key);
  if (problem || typeof key !== 'string') return problem;
  if (LONE_SURROGATE.test(key)) return `key ${JSON.stringify(key)} has a lone UTF-16 surrogate`;
  if (key.includes('\0')) return `key ${JSON.stringify(key)} contains NUL`;
  for (const segment of key.split('/')) {
    if (segment === '') return `key ${JSON.stringify(key)} has an empty segment (a leading, trailing or double '/')`;
    if (segment === '.' || segment === '..') return `key ${JSON.stringify(key)} has a "${segment}" segment`;
    if (encodeSegment(segment).length > MAX_ENCODED_SEGMENT) return `key ${JSON.stringify(key)} has a segment too long for a file name`;
  }
  return undefined;
}

export interface KeyPaths {
  /** The directory holding the object, its temp files and its lock. */
  dir: string;
  /**
   * The key directories from the root down to `dir` (`a~`, `a~/b~` for key 'a/b/c'),
   * which no-follow.ts checks are not symbolic links; empty for a key without '/'.
   */
  dirs: string[];
  /** The object's file name inside `dir`. */
  name: string;
  file: string;
  lock: string;
}

/** Paths of a key already checked with `pathKeyProblem`. */
export function keyPaths(root: string, key: string): KeyPaths {
  const segments = key.split('/');
  const last = segments.pop() as string;
  const dirs = keyDirs(root, segments);
  const dir = dirs.at(-1) ?? root;
  const name = encodeSegment(last);
  return { dir, dirs, name, file: join(dir, name), lock: join(dir, name + LOCK_SUFFIX) };
}

/** The directories of the key prefix `segments[0]/segments[1]/…/`, from the root down. */
function keyDirs(root: string, segments: readonly string[]): string[] {
  const dirs: string[] = [];
  let dir = root;
  for (const segment of segments) {
    dir = join(dir, encodeSegment(segment) + DIR_SUFFIX);
    dirs.push(dir);
  }
  return dirs;
}

/**
 * The deepest directory every key with `prefix` lives under, with the key prefix it
 * stands for ('a/b/' for `a~/b~`), or undefined when no valid key can have the prefix.
 */
export function prefixDir(root: string, prefix: string): { dir: string; dirs: string[]; keyPrefix: string } | undefined {
  const segments = prefix.split('/');
  segments.pop(); // the partial last segment is matched while listing
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..' || segment.includes('\0') || LONE_SURROGATE.test(segment)) return undefined;
  }
  const dirs = keyDirs(root, segments);
  return { dir: dirs.at(-1) ?? root, dirs, keyPrefix: segments.map((segment) => `${segment}/`).join('') };
}
