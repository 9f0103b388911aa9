import type { Row, SqlValue } from '@blockvfs/vfs-wasqlite';

/**
 * Rows as text, the way `sqlite3` prints them: `table` (aligned columns under a header),
 * `json` (an array of objects; integers beyond 2^53 stay exact numbers, blobs are hex
 * strings) or `csv` (RFC 4180, with a header line).
 */
export type ResultFormat = 'table' | 'json' | 'csv';
export const RESULT_FORMATS: readonly ResultFormat[] = ['table', 'json', 'csv'];

export function formatRows(rows: readonly Row[], format: ResultFormat, columns = columnsOf(rows)): string {
  switch (format) {
    case 'json':
      return `${toJson(rows)}\n`;
    case 'csv':
      return columns.length === 0
        ? ''
        : `${[columns, ...rows.map((row) => columns.map((c) => text(row[c])))].map((cells) => cells.map(csvCell).join(',')).join('\r\n')}\r\n`;
    case 'table':
      return table(rows, columns);
  }
}

export function columnsOf(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

/** A cell as text: NULL as empty (as sqlite3's default), blobs as hex, integers exactly. */
function text(value: SqlValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex').toUpperCase();
  return String(value);
}

function csvCell(cell: string): string {
  return /[",\r\n]/.test(cell) ? `"${cell.replace(/"/g, '""')}"` : cell;
}

function table(rows: readonly Row[], columns: string[]): string {
  if (columns.length === 0) return '';
  const cells = rows.map((row) => columns.map((c) => (row[c] === null ? 'NULL' : text(row[c]))));
  const widths = columns.map((c, i) => Math.max(width(c), ...cells.map((r) => width(r[i] as string))));
  const line = (values: string[]) =>
    values
      .map((v, i) => v + ' '.repeat((widths[i] as number) - width(v)))
      .join('  ')
      .trimEnd();
  return `${[line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n')}\n`;
}

/** Display width, counting code points (good enough for a terminal without wide characters). */
function width(value: string): number {
  return [...value].length;
}

function toJson(rows: readonly Row[]): string {
  // Values are mapped before stringify: wa-sqlite gives BigInt a toJSON (a string), which would run before any replacer.
  const rawJSON = (JSON as unknown as { rawJSON?: (text: string) => unknown }).rawJSON;
  const cell = (value: SqlValue): unknown => {
    if (typeof value === 'bigint') return rawJSON ? rawJSON(value.toString()) : value.toString();
    if (value instanceof Uint8Array) return Buffer.from(value).toString('hex').toUpperCase();
    return value;
  };
  return JSON.stringify(rows.map((row) => Object.fromEntries(Object.entries(row).map(([key, value]) => [key, cell(value)]))));
}
