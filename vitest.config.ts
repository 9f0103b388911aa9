import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against each package's TypeScript sources, not its build output, so a
// change is tested without a rebuild and every package sees one copy of core (one
// BlockVfsError class for instanceof checks).
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = readdirSync(packagesDir)
  .filter((dir) => existsSync(`${packagesDir}${dir}/src/index.ts`))
  .map((dir) => ({ find: `@blockvfs/${dir}`, replacement: `${packagesDir}${dir}/src/index.ts` }));

/** A project per server: its global setup (which starts the server) runs only when its tests do. */
const cloud = (name: string) => ({
  extends: true as const,
  test: {
    name,
    include: [`packages/store-${name}/test/**/*.test.ts`],
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
          exclude: ['packages/store-{s3,gcs,azure}/**', '**/node_modules/**'],
        },
      },
      cloud('s3'),
      cloud('gcs'),
      cloud('azure'),
    ],
  },
});
