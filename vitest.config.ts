import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against each package's TypeScript sources, not its build output, so a
// change is tested without a rebuild and every package sees one copy of core (one
// BlockVfsError class for instanceof checks). Where a package's sources are is said
// once, in its package.json: the export under SOURCE_CONDITION, which child processes
// select with `--conditions` (test-workloads, child-node.ts). Here it becomes an alias,
// not `resolve.conditions`: a condition applies only to packages in the importer's
// node_modules, and core's tests import store-memory, which core cannot depend on
// (store-memory depends on core).
const SOURCE_CONDITION = '@blockvfs/source';
const packages = new URL('./packages/', import.meta.url);
const alias = readdirSync(packages)
  .map((dir) => new URL(`${dir}/`, packages))
  .filter((dir) => existsSync(new URL('package.json', dir)))
  .flatMap((dir) => {
    const pkg = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name: string; exports?: Record<string, Record<string, string>> };
    // Every entry point ('.', './store', …), each matched exactly: a plain string alias would
    // also rewrite '@blockvfs/core/store' as '<core's index.ts>/store'.
    return Object.entries(pkg.exports ?? {}).map(([subpath, entry]) => {
      const source = entry[SOURCE_CONDITION];
      // Without it, this entry would resolve to its dist/, here and in child processes: fail instead.
      if (source === undefined)
        throw new Error(`${pkg.name}: its package.json exports["${subpath}"] has no "${SOURCE_CONDITION}" condition (its source file, before "import")`);
      const specifier = pkg.name + subpath.slice(1);
      return { find: new RegExp(`^${specifier.replace(/[/.]/g, '\\$&')}$`), replacement: fileURLToPath(new URL(source, dir)) };
    });
  });

// A project per server: its global setup (which starts the server) runs only when its tests do.
// Besides the store's own tests, test files of any package named `<file>.<server>.test.ts` (the
// command line's, say) run there, and not in 'local'.
const cloud = (name: string) => ({
  extends: true as const,
  test: {
    name,
    include: [`packages/store-${name}/test/**/*.test.ts`, `packages/*/test/**/*.${name}.test.ts`],
    globalSetup: [`packages/test-servers/src/vitest-setup-${name}.ts`],
  },
});

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'local',
          include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
          exclude: ['packages/store-{s3,gcs,azure}/**', 'packages/*/test/**/*.{s3,gcs,azure}.test.ts', '**/node_modules/**'],
        },
      },
      cloud('s3'),
      cloud('gcs'),
      cloud('azure'),
    ],
  },
});
