/**
 * The longest database name, in UTF-8 bytes: SQLite keeps file names in a buffer of
 * the VFS's `mxPathname` (1024) bytes, which must also hold the name of the
 * database's rollback journal, `<name>-journal`.
 */
export const MAX_NAME_BYTES = 1024 - '-journal'.length;

/** Suffixes SQLite gives a database's own files: a database named so would share its objects with another's journal. */
const RESERVED_SUFFIXES = ['-journal', '-wal'];

/** Why `name` cannot name a database, or undefined when it can. */
export function databaseNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return '"name" must be a non-empty string';
  if (name === ':memory:' || name.startsWith('file:'))
    return `"name" ${JSON.stringify(name)} has a special meaning to SQLite; use a plain name such as "app.db"`;
  if (name.includes('\0')) return '"name" must not contain NUL characters';
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_NAME_BYTES)
    return `"name" is ${bytes} bytes long in UTF-8; a database name may have at most ${MAX_NAME_BYTES} (SQLite's path buffer also holds "<name>-journal")`;
  const suffix = RESERVED_SUFFIXES.find((reserved) => name.endsWith(reserved));
  if (suffix) {
    const base = name.slice(0, -suffix.length);
    return `"name" ${JSON.stringify(name)} ends with "${suffix}": in the direct layout it is where the ${suffix.slice(1)} of database ${JSON.stringify(base)} lives, so writing one would destroy the other; choose another name`;
  }
  return undefined;
}
