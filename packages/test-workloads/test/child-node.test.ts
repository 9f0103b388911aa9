import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { SOURCE_CONDITION, sourceEnv, sourceExecArgv } from '../src/child-node.js';

const run = promisify(execFile);
const packages = new URL('../../', import.meta.url);

/** Runs `code` (an ES module) in a child started with `execArgv`; its stdout. */
async function child(execArgv: string[], code: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...execArgv, '--input-type=module', '--eval', code], { env: sourceEnv() });
  return stdout;
}

const guard = new URL('../src/child-node.ts', import.meta.url).href;

describe('child processes run the sources', () => {
  test('every workspace package exports its sources under the source condition, ahead of its build', () => {
    const dirs = readdirSync(packages).filter((dir) => existsSync(new URL(`${dir}/package.json`, packages)));
    expect(dirs.length).toBeGreaterThan(5);
    for (const dir of dirs) {
      const pkg = JSON.parse(readFileSync(new URL(`${dir}/package.json`, packages), 'utf8')) as { exports?: Record<string, Record<string, string>> };
      const entry = pkg.exports?.['.'];
      if (entry === undefined) continue;
      const keys = Object.keys(entry);
      // Node takes the first condition it knows in key order: the source one must come before any it always knows.
      const index = keys.indexOf(SOURCE_CONDITION);
      expect(index, `${dir}: ${keys.join(', ')}`).toBeGreaterThanOrEqual(0);
      for (const other of ['import', 'require', 'node', 'default'])
        if (keys.includes(other)) expect(index, `${dir}: ${keys.join(', ')}`).toBeLessThan(keys.indexOf(other));
      expect(existsSync(new URL(entry[SOURCE_CONDITION] as string, new URL(`${dir}/`, packages))), `${dir}: ${entry[SOURCE_CONDITION]}`).toBe(true);
    }
  });

  test('a child started like the writers resolves workspace packages to their sources', async () => {
    const out = await child(sourceExecArgv(), `const m = await import(${JSON.stringify(guard)}); m.assertRunningSources(); console.log('sources');`);
    expect(out.trim()).toBe('sources');
  });

  test('a child started without the source condition refuses to run', async () => {
    const tsxOnly = sourceExecArgv().filter((arg) => !arg.startsWith('--conditions'));
    await expect(child(tsxOnly, `const m = await import(${JSON.stringify(guard)}); m.assertRunningSources();`)).rejects.toThrow(
      /must run the TypeScript sources|Cannot find/,
    );
  });
});
