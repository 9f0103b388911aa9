/**
 * One error class for the whole project; `kind` tells the caller what to do:
 *
 * - `not-found`: the thing does not exist (a missing database, not a missing block: `get` returns undefined);
 * - `precondition-failed`: a conditional put lost (someone else wrote first): re-read and decide;
 * - `transient`: worth retrying (throttling, 5xx, a dropped connection, a timeout);
 * - `permanent`: retrying will not help (access denied, a missing bucket, corrupt data);
 * - `invalid`: the caller passed something wrong (a bad key, option or input file).
 */
import { brandSymbol, hasBrand, setBrand } from './brand.js';

export type ErrorKind = 'not-found' | 'precondition-failed' | 'transient' | 'permanent' | 'invalid';

export const ERROR_KINDS: readonly ErrorKind[] = ['not-found', 'precondition-failed', 'transient', 'permanent', 'invalid'];

export interface BlockVfsErrorOptions {
  /** The package raising it, e.g. `@blockvfs/store-fs`. */
  source: string;
  /** The store's name (`BlockStore.name`), when a store is involved. */
  store?: string;
  /** The provider's own error, kept as it was. */
  cause?: unknown;
}

const BRAND = brandSymbol('BlockVfsError');

export class BlockVfsError extends Error {
  /** `instanceof BlockVfsError` holds for errors of any copy of this package (see brand.ts). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, BRAND);
  }

  override readonly name = 'BlockVfsError';
  readonly kind: ErrorKind;
  readonly source: string;
  readonly store: string | undefined;

  constructor(kind: ErrorKind, message: string, options: BlockVfsErrorOptions) {
    const where = options.store ? `${options.source} (${options.store})` : options.source;
    super(`${where}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.source = options.source;
    this.store = options.store;
    setBrand(this, BRAND);
  }
}

/** True when `error` is a BlockVfsError (from any copy of this package), of the given kind if one is named. */
export function isBlockVfsError(error: unknown, kind?: ErrorKind): error is BlockVfsError {
  return hasBrand(error, BRAND) && (kind === undefined || (error as BlockVfsError).kind === kind);
}
