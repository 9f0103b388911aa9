import type { BlockStore } from './block-store.js';
import { atomicHeadKey, atomicPrefixes } from './atomic/objects.js';
import { brandSymbol, hasBrand, setBrand } from './brand.js';
import { BlockVfsError } from './errors.js';
import type { Layout } from './layout.js';

/**
 * What the store holds under a database's name when the layout asked for finds no
 * database there: one in the other layout (opened in its own layout by openDatabase
 * and serialize, whatever `layout` says), or a plain SQLite file uploaded as the one
 * object `<name>` (refused: it must be imported). Asked only when a file would
 * otherwise be created, so an existing database costs nothing more to open.
 */

const SOURCE = '@blockvfs/core';
/** "SQLite format 3\0": how every SQLite database file begins. */
const SQLITE_MAGIC = new TextEncoder().encode('SQLite format 3\0');

const WRONG_LAYOUT = brandSymbol('WrongLayoutError');

/** A database exists under the name in another layout than the one asked for; `layout` is the one it was written in. */
export class WrongLayoutError extends BlockVfsError {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, WRONG_LAYOUT);
  }

  readonly layout: Layout;

  constructor(layout: Layout, message: string, store: string) {
    super('invalid', message, { source: SOURCE, store });
    this.layout = layout;
    setBrand(this, WRONG_LAYOUT);
  }
}

export function isWrongLayoutError(error: unknown): error is WrongLayoutError {
  return hasBrand(error, WRONG_LAYOUT);
}

/** Whether the object at exactly `name` is an SQLite database file (one small ranged GET). */
export async function isSqliteObject(store: BlockStore, name: string): Promise<boolean> {
  const start = await store.get(name, { offset: 0, length: SQLITE_MAGIC.length });
  return start !== undefined && start.length === SQLITE_MAGIC.length && SQLITE_MAGIC.every((byte, i) => start[i] === byte);
}

/** The refusal of a database name that is a plain SQLite file stored as one object. */
export function sqliteObjectError(store: BlockStore, name: string): BlockVfsError {
  return new BlockVfsError(
    'invalid',
    `"${name}" is an SQLite database file stored as one object, not a blockvfs database (its blocks live under "${name}/"): ` +
      `import it with deserialize() from @blockvfs/serialize, reading the object as the source, under another name (or delete the object once imported)`,
    { source: SOURCE, store: store.name },
  );
}

/** Whether an atomic-layout database exists under `name`: its head, or a commit record (two requests side by side). */
export async function hasAtomicDatabase(store: BlockStore, name: string): Promise<boolean> {
  const firstRecord = async (): Promise<boolean> => {
    for await (const _entry of store.list(atomicPrefixes(name).log)) return true;
    return false;
  };
  const [head, record] = await Promise.all([store.get(atomicHeadKey(name), { offset: 0, length: 1 }), firstRecord()]);
  return head !== undefined || record;
}
