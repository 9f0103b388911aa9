import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Runs `blockvfs` as a child process, as a user would, on the TypeScript sources (tsx and
 * the @blockvfs/source export condition, as test-workloads' child processes do): what
 * is tested is src/, never a stale dist/.
 */

export const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
const TSX = import.meta.resolve('tsx/esm');
const BASE_TSCONFIG = fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes (an export to `-`). */
  bytes: Buffer;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to the child's stdin, which is then closed. */
  input?: string | Uint8Array;
  cwd?: string;
}

/** The command line that starts the CLI from sources (for `script -c`). */
export function cliCommand(): string[] {
  return [process.execPath, '--import', TSX, '--conditions=@blockvfs/source', BIN];
}

export function cliEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // No history file of the user's, no colours or terminal guesses from the test runner.
  return { ...process.env, TSX_TSCONFIG_PATH: BASE_TSCONFIG, BLOCKVFS_HISTORY: '', ...env };
}

export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const [node, ...nodeArgs] = cliCommand();
  const child = spawn(node as string, [...nodeArgs, ...args], { env: cliEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  child.stdin.on('error', () => undefined); // a child that exits before reading its stdin
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const bytes = Buffer.concat(out);
      resolve({ code: code ?? -1, stdout: bytes.toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), bytes });
    });
  });
}
