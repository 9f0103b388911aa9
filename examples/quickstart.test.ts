import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

/**
 * Runs the quick start in-process: vitest resolves `@blockvfs/*` to the packages'
 * sources (root vitest.config.ts), so this checks what the script does without a
 * build. `pnpm demo` runs the same file with Node against the built packages.
 */
it('quickstart.ts prints the planets, exports a file the sqlite3 shell reads, and says so', async () => {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  try {
    await import('./quickstart.ts');
  } finally {
    log.mockRestore();
  }
  const output = lines.join('\n');
  expect(output).toMatch(/Planets with moons:\n {2}Saturn +146\n {2}Jupiter +95\n/);
  expect(output).not.toMatch(/Mercury|Venus/);

  const exported = fileURLToPath(new URL('./out/quickstart.sqlite', import.meta.url));
  expect(existsSync(exported)).toBe(true);
  expect(execFileSync('sqlite3', [exported, 'PRAGMA integrity_check; SELECT count(*) FROM planets;'], { encoding: 'utf8' })).toBe('ok\n8\n');
  expect(output).toMatch(/sqlite3 \S*quickstart\.sqlite "SELECT count\(\*\) FROM planets" {2}→ {2}8$/m);
});
