import { fileURLToPath } from 'node:url';

/**
 * How a child process runs the same code that vitest tests: the TypeScript sources of
 * every workspace package, never their builds (a stale or missing dist/ would otherwise
 * test old code, passing bugs fixed in src but not rebuilt, and missing bugs not yet in
 * dist).
 *
 * - tsx compiles TypeScript as Node loads it, including the `./x.js` specifiers that
 *   stand for `./x.ts` under NodeNext resolution (which Node's own type stripping does
 *   not map);
 * - the SOURCE_CONDITION export condition makes `@blockvfs/*` imports resolve to the
 *   package's `src/index.ts` (each workspace package.json lists it before `import`);
 *   with it, a child that imports a package by name from anywhere (a store's
 *   test/child-store.ts, say) gets that package's sources too, through Node's own
 *   resolution: one copy of each module, as under vitest.
 */

/**
 * The export condition that selects a workspace package's TypeScript sources. Scoped
 * to the project, so that no consumer's tooling selects it by accident (a plain
 * `source` is used by other projects' build setups too), and TypeScript ignores it
 * (it is no `customConditions` of ours): it changes neither what tsc emits nor the
 * types a consumer resolves.
 */
export const SOURCE_CONDITION = '@blockvfs/source';

/** Node's arguments (before the script) for a child that runs the sources. */
export function sourceExecArgv(): string[] {
  // tsx resolved from here, as a file URL: the child may start in any working directory.
  // Its ESM hooks only: the sources are all ES modules, and leaving CommonJS dependencies
  // (the AWS SDK's hundreds of modules) to Node halves the loader's cost per child.
  return ['--import', import.meta.resolve('tsx/esm'), `--conditions=${SOURCE_CONDITION}`];
}

/**
 * The environment for such a child: tsx reads the tsconfig of the working directory by
 * default; the project's base one makes the child compile the same way whatever that is,
 * and never gives it a second route to the sources (a package tsconfig's `paths`).
 */
export function sourceEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // From src/ or dist/ alike: the repository root is three levels up.
  return { ...env, TSX_TSCONFIG_PATH: fileURLToPath(new URL('../../../tsconfig.base.json', import.meta.url)) };
}

/**
 * Throws unless this process runs the sources: called first thing in a child, it turns
 * a child started without sourceExecArgv (which would quietly run the builds) or run
 * from dist/ into a failure.
 */
export function assertRunningSources(): void {
  const resolved = ['@blockvfs/core', '@blockvfs/vfs-wasqlite'].map((name) => import.meta.resolve(name));
  if (!import.meta.url.endsWith('.ts') || !resolved.every((url) => url.endsWith('/src/index.ts'))) {
    throw new Error(
      `this child must run the TypeScript sources (node ${sourceExecArgv().join(' ')}), but runs ${import.meta.url}, resolving ${resolved.join(', ')}`,
    );
  }
}
