import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Database } from '@blockvfs/vfs-wasqlite';
import { describeError, CliError } from './errors.js';
import { formatRows, RESULT_FORMATS, type ResultFormat } from './result-format.js';
import { isComplete, splitStatements } from './sql-text.js';

/**
 * The interactive shell of `blockvfs sql URL`, after `sqlite3`'s: statements may span
 * lines and run once a `;` completes them; lines starting with `.` are commands; the
 * up arrow recalls earlier input, kept across sessions in ~/.blockvfs_history
 * (BLOCKVFS_HISTORY names another file; an empty value keeps none). When stdin is not a
 * terminal it reads statements from it without prompts, as `sqlite3 db < script.sql`.
 * An error is printed and the shell goes on; it then exits with status 1 at the end.
 */
export interface ShellOptions {
  db: Database;
  /** The database's URL, for the banner. */
  url: string;
  format: ResultFormat;
  io: { stdout: (text: string) => void; stderr: (text: string) => void };
  input?: NodeJS.ReadableStream & { isTTY?: boolean };
  output?: NodeJS.WritableStream;
}

const PROMPT = 'blockvfs> ';
const CONTINUATION = '     ...> ';
const HISTORY_SIZE = 1000;

const HELP = `.help                 this list
.mode table|json|csv  how rows are printed
.tables               the tables and views
.schema [NAME]        the CREATE statements (of NAME)
.version              the commit this connection reads
.quit, .exit          leave (Ctrl-D too)
Statements end with ;  and may span lines.
`;

export async function runShell(options: ShellOptions): Promise<void> {
  const { db, io } = options;
  const input = options.input ?? process.stdin;
  const terminal = input.isTTY === true;
  const historyFile = terminal ? historyPath() : undefined;
  const history = historyFile ? loadHistory(historyFile) : [];
  const rl = createInterface({
    input,
    output: options.output ?? process.stdout,
    terminal,
    history,
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
    prompt: PROMPT,
  });
  let format = options.format;
  let buffer = '';
  let failures = 0;
  let interrupted = false;
  rl.on('history', (lines: string[]) => {
    history.splice(0, history.length, ...lines);
  });
  rl.on('SIGINT', () => {
    // Ctrl-C drops the statement being typed, as in sqlite3; on an empty line it says how to leave.
    if (buffer === '' && interrupted) return rl.close();
    interrupted = buffer === '';
    io.stdout(buffer === '' ? '\n(.quit or Ctrl-D to leave)\n' : '\n');
    buffer = '';
    rl.setPrompt(PROMPT);
    rl.prompt();
  });
  if (terminal) {
    io.stdout(`blockvfs shell on ${options.url}. Enter ".help" for usage hints.\n`);
    rl.prompt();
  }
  try {
    for await (const line of rl) {
      interrupted = false;
      if (buffer === '' && line.trim().startsWith('.')) {
        const result = await dotCommand(line.trim(), db, format, io);
        if (result === 'quit') break;
        if (result === 'error') failures += 1;
        else if (result !== undefined) format = result;
      } else {
        buffer = buffer === '' ? line : `${buffer}\n${line}`;
        if (isComplete(buffer)) {
          const { statements } = splitStatements(buffer);
          buffer = '';
          for (const statement of statements) {
            try {
              const rows = await db.all(statement);
              if (rows.length > 0 || format === 'json') io.stdout(formatRows(rows, format));
            } catch (error) {
              // As sqlite3 (without -bail): say so and go on; a script's exit status tells at the end.
              failures += 1;
              io.stderr(`Error: ${describeError(error)}\n`);
            }
          }
        }
      }
      rl.setPrompt(buffer === '' ? PROMPT : CONTINUATION);
      if (terminal) rl.prompt();
    }
    if (buffer.trim() !== '') {
      io.stderr(`Error: incomplete SQL at the end of the input: ${buffer.trim()}\n`);
      failures += 1;
    }
  } finally {
    rl.close();
    if (historyFile) saveHistory(historyFile, history);
  }
  if (terminal) io.stdout('\n');
  if (failures > 0 && !terminal) throw new CliError(`${failures} statement(s) failed`);
}

/** A format for `.mode`, 'quit', 'error', or undefined when done. */
async function dotCommand(line: string, db: Database, format: ResultFormat, io: ShellOptions['io']): Promise<ResultFormat | 'quit' | 'error' | undefined> {
  const [command, ...args] = line.split(/\s+/);
  try {
    switch (command) {
      case '.quit':
      case '.exit':
      case '.q':
        return 'quit';
      case '.help':
        io.stdout(HELP);
        return undefined;
      case '.mode': {
        const mode = args[0];
        if (mode === undefined) {
          io.stdout(`current output mode: ${format}\n`);
          return undefined;
        }
        if (!(RESULT_FORMATS as readonly string[]).includes(mode)) throw new Error(`unknown mode "${mode}": ${RESULT_FORMATS.join(', ')}`);
        return mode as ResultFormat;
      }
      case '.tables': {
        const rows = await db.all<{ name: string }>("SELECT name FROM sqlite_schema WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%' ORDER BY name");
        if (rows.length > 0) io.stdout(`${rows.map((row) => row.name).join('  ')}\n`);
        return undefined;
      }
      case '.schema': {
        const rows = await db.all<{ sql: string }>(
          args[0] === undefined
            ? "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            : 'SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND tbl_name = ? ORDER BY rowid',
          ...(args[0] === undefined ? [] : [[args[0]]]),
        );
        for (const row of rows) io.stdout(`${row.sql};\n`);
        return undefined;
      }
      case '.version': {
        const version = await db.version();
        io.stdout(version ? `commit ${version.commit} of ${version.time.toISOString()}\n` : `no commit (layout ${db.layout})\n`);
        return undefined;
      }
      default:
        throw new Error(`unknown command "${command}"; enter ".help" for the list`);
    }
  } catch (error) {
    io.stderr(`Error: ${describeError(error)}\n`);
    return 'error';
  }
}

function historyPath(): string | undefined {
  const configured = process.env.BLOCKVFS_HISTORY;
  if (configured === '') return undefined;
  return configured ?? join(homedir(), '.blockvfs_history');
}

/** readline wants the newest line first; the file keeps the oldest first, as shells do. */
function loadHistory(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).reverse().slice(0, HISTORY_SIZE);
  } catch {
    return [];
  }
}

function saveHistory(path: string, history: readonly string[]): void {
  try {
    writeFileSync(path, `${[...history].reverse().join('\n')}\n`, { mode: 0o600 });
  } catch {
    // A history that cannot be kept is no reason to fail the session.
  }
}
