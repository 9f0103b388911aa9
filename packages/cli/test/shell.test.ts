import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeSqliteFile } from './cli-suite.js';
import { cliCommand, cliEnv, runCli } from './run-cli.js';

/**
 * The interactive shell (`blockvfs sql URL` on a terminal), driven through a real
 * pseudo-terminal: util-linux `script` gives the child one, so its stdin is a TTY and
 * readline runs with prompts, line editing and history, as for a person typing.
 */

const root = mkdtempSync(join(tmpdir(), 'blockvfs-shell-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** A child on a pty: what it printed so far (escape sequences stripped), and a way to type. */
function startOnPty(args: string[], env: NodeJS.ProcessEnv) {
  const command = [...cliCommand(), ...args].map(quote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: cliEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  // Without the cursor moves and clears readline draws with (ESC [ … letter), and without CRs.
  const escapes = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');
  const text = () => output.replace(escapes, '').replace(/\r/g, '');
  return {
    text,
    /** Types `keys`; returns where the output stood, for waitFor to look only at what follows. */
    type: (keys: string): number => {
      const mark = text().length;
      child.stdin.write(keys);
      return mark;
    },
    /** Resolves once the output after `since` holds `expected` (or rejects after a while, showing the output). */
    async waitFor(expected: string, since = 0, timeoutMs = 60_000): Promise<void> {
      const started = Date.now();
      while (!text().slice(since).includes(expected)) {
        if (Date.now() - started > timeoutMs) throw new Error(`no ${JSON.stringify(expected)} after offset ${since} in:\n${text()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    exited,
    kill: () => child.kill('SIGKILL'),
  };
}

describe('the interactive shell', { timeout: 240_000 }, () => {
  it('runs multi-line statements, dot commands and recalled history on a terminal', async () => {
    const url = join(root, 'db');
    expect(
      (await runCli(['sql', '--create', url, "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes(body) VALUES ('one'), ('two')"])).code,
    ).toBe(0);
    const historyFile = join(root, 'history');
    const shell = startOnPty(['sql', url], { BLOCKVFS_HISTORY: historyFile });
    try {
      await shell.waitFor('blockvfs> ');
      expect(shell.text()).toMatch(/^blockvfs shell on .*db\. Enter "\.help" for usage hints\.$/m);

      // A statement over two lines: the continuation prompt, then the rows once the ; arrives.
      await shell.waitFor('...> ', shell.type('SELECT id, body\n'));
      await shell.waitFor('2   two', shell.type('  FROM notes ORDER BY id;\n'));
      expect(shell.text()).toContain('id  body\n--  ----\n1   one\n2   two\n');

      await shell.waitFor('blockvfs> ', shell.type('.mode json\n'));
      await shell.waitFor('blockvfs> ', shell.type("INSERT INTO notes(body) VALUES ('three');\n"));
      await shell.waitFor('[{"n":3}]', shell.type('SELECT count(*) AS n FROM notes;\n'));
      // The up arrow brings the last line back; Enter runs it again.
      await shell.waitFor('[{"n":3}]', shell.type('\x1b[A\r'));

      // An error is printed and the shell goes on.
      await shell.waitFor('Error: no such column: nope', shell.type('SELECT nope FROM notes;\n'));
      await shell.waitFor('\nnotes\n', shell.type('.tables\n'));
      shell.type('.quit\n');
      expect(await shell.exited).toBe(0);
    } finally {
      shell.kill();
    }
    // The history is kept for the next session, oldest first.
    const history = readFileSync(historyFile, 'utf8').trim().split('\n');
    expect(history.slice(0, 3)).toEqual(['SELECT id, body', '  FROM notes ORDER BY id;', '.mode json']);
    expect(history).toContain('SELECT count(*) AS n FROM notes;');
    // What it wrote is in the database.
    expect((await runCli(['sql', '--format', 'csv', url, 'SELECT body FROM notes ORDER BY id'])).stdout).toBe('body\r\none\r\ntwo\r\nthree\r\n');
  });

  it('refuses to write a database to a terminal, or to read one from it', async () => {
    const url = join(root, 'tty');
    expect((await runCli(['sql', '--create', url, 'CREATE TABLE t(x)'])).code).toBe(0);
    const exporting = startOnPty(['export', url, '-'], {});
    expect(await exporting.exited).toBe(2);
    expect(exporting.text()).toMatch(/blockvfs: export -: stdout is a terminal; redirect it/);
    const importing = startOnPty(['import', '-', join(root, 'tty-in')], {});
    expect(await importing.exited).toBe(2);
    expect(importing.text()).toMatch(/blockvfs: import -: stdin is a terminal/);
  });

  it('shows a progress bar with bytes, rate and ETA when stderr is a terminal', async () => {
    const file = join(root, 'bar.sqlite');
    makeSqliteFile(file, 4096, 2000);
    const importing = startOnPty(['import', file, join(root, 'bar', 'db')], {});
    expect(await importing.exited).toBe(0);
    // The bar's last drawing: all of the file confirmed by the store.
    expect(importing.text()).toMatch(/import \[█+\] 100% \| [\d.]+ KiB of [\d.]+ KiB \| [\d.]+ [KM]iB\/s \| ETA \d+s/);
    expect(importing.text()).toMatch(/imported [\d.]+ KiB \(\d+ pages of 4096 bytes\)/);
  });
});
