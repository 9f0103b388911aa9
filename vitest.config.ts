import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against each package's TypeScript sources, not its build output, so a
// change is tested without a rebuild and every package sees one copy of core (one
// BlockVfsError class for instanceof checks).
const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = readdirSync(packagesDir)
  .filter((dir) => existsSync(`${packagesDir}${dir}/src/index.ts`))
  .map((dir) => ({ find: `@blockvfs/${dir}`, replacement: `${packagesDir}${dir}/src/index.ts` }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
