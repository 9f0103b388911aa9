import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import type { Command, Reply } from './fixtures/racer.js';

/**
 * Bundles fixtures/racer.ts with the current sources of store-fs and core into one
 * .mjs file in a temp folder: the children run exactly the code under test, whether
 * or not the packages were built, and nothing is written into the workspace.
 */
export async function bundleRacer(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'blockvfs-fs-racer-'));
  const file = join(dir, 'racer.mjs');
  await build({
    input: fileURLToPath(new URL('./fixtures/racer.ts', import.meta.url)),
    platform: 'node',
    // The package's tsconfig maps @blockvfs/* to the sources; imports say .js for .ts files.
    tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    logLevel: 'warn',
    output: { file, format: 'esm' },
  });
  return file;
}

/** One child process running the racer, spoken to one JSON line at a time. */
export class Racer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: ((reply: Reply | { ready: true }) => void)[] = [];
  readonly #stderr: string[] = [];
  readonly ready: Promise<unknown>;

  constructor(script: string, root: string) {
    this.#child = spawn(process.execPath, [script, root], { stdio: 'pipe' });
    this.#child.stderr.on('data', (chunk: Buffer) => this.#stderr.push(chunk.toString()));
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#waiting.shift()?.(JSON.parse(line) as Reply));
    const exited = new Promise<never>((_, reject) => {
      this.#child.on('exit', (code) => reject(new Error(`racer exited with ${code}: ${this.#stderr.join('')}`)));
    });
    exited.catch(() => undefined);
    this.#exited = exited;
    this.ready = this.#next();
  }

  readonly #exited: Promise<never>;

  #next(): Promise<Reply | { ready: true }> {
    return Promise.race([new Promise<Reply | { ready: true }>((resolve) => this.#waiting.push(resolve)), this.#exited]);
  }

  send(command: Command): Promise<Reply> {
    const reply = this.#next() as Promise<Reply>;
    this.#child.stdin.write(`${JSON.stringify(command)}\n`);
    return reply;
  }

  /** Ends the child by closing its stdin, and waits for it. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    await exited;
  }
}
