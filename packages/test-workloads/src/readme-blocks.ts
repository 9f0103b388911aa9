import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sourceEnv, sourceExecArgv } from './child-node.js';

/**
 * The TypeScript and JavaScript code blocks of the READMEs a user reads (the root one,
 * examples/, and every public package's), so that a test can hold each one to what it
 * shows: readers copy these blocks, and a block that no longer runs misleads them.
 *
 * A block runs as it is, unless the HTML comment right before its fence says otherwise:
 *
 * - `<!-- setup: code -->`: a fragment that runs after `code` (its imports, the `store`
 *   it talks about); the setup is invisible on the rendered page, so keep it to what the
 *   prose already says exists;
 * - `<!-- twin: path -->`: an excerpt of the file at `path` (relative to the README),
 *   verbatim up to indentation, where `// …` lines stand for lines left out; that file
 *   must run in a test (a cloud quickstart, say, or a test file itself);
 * - `<!-- not run: reason -->`: not a program (a type signature, say).
 *
 * Any other comment there is an error, so that a misspelt marker is not read as none.
 * A block whose code or setup imports a cloud's SDK or store runs in that cloud's vitest
 * project (`packages/store-<cloud>/test/examples.test.ts`), with the environment variables
 * that point at its local server (test-servers' standard-env.ts), as a user's would.
 */

/** The repository root (this file is packages/test-workloads/src or dist). */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The clouds a block may need a server of: the cloud vitest projects run those blocks. */
export type BlockCloud = 's3' | 'gcs' | 'azure';

export type BlockMarker = { kind: 'run'; setup: string } | { kind: 'twin'; path: string } | { kind: 'not-run'; reason: string };

export interface ReadmeBlock {
  /** The README, relative to the repository root (`packages/core/README.md`). */
  readme: string;
  /** The 1-based line of the opening fence. */
  line: number;
  /** `README.md:37`: how tests name the block. */
  label: string;
  language: 'ts' | 'js';
  code: string;
  marker: BlockMarker;
  /** For a block that runs: the cloud whose SDK or store it (or its setup) imports, if any. */
  cloud: BlockCloud | undefined;
}

const LANGUAGES: Record<string, 'ts' | 'js'> = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'js' };

const CLOUD_IMPORTS: [BlockCloud, RegExp][] = [
  ['s3', /from ['"](@aws-sdk\/client-s3|@blockvfs\/store-s3)['"]/],
  ['gcs', /from ['"](@google-cloud\/storage|@blockvfs\/store-gcs)['"]/],
  ['azure', /from ['"](@azure\/storage-blob|@blockvfs\/store-azure)['"]/],
];

interface PackageManifest {
  name: string;
  private?: boolean;
  files?: string[];
  exports?: Record<string, Record<string, string> | string>;
}

function manifest(dir: string): PackageManifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageManifest;
}

/** The workspace packages' folders (absolute). */
export function packageDirs(root = REPOSITORY_ROOT): string[] {
  const packages = join(root, 'packages');
  return readdirSync(packages)
    .map((dir) => join(packages, dir))
    .filter((dir) => existsSync(join(dir, 'package.json')));
}

/** The folders of the packages published to npm (no `"private": true`). */
export function publicPackageDirs(root = REPOSITORY_ROOT): string[] {
  return packageDirs(root).filter((dir) => !manifest(dir).private);
}

/** The READMEs whose code blocks are checked, relative to the root. */
export function checkedReadmes(root = REPOSITORY_ROOT): string[] {
  const readmes = ['README.md', 'examples/README.md', ...publicPackageDirs(root).map((dir) => relative(root, join(dir, 'README.md')))];
  return readmes.filter((path) => existsSync(join(root, path))).map((path) => path.split(sep).join('/'));
}

/** The HTML comment that ends right before line `index` (blank lines between allowed), or undefined. */
function commentBefore(lines: string[], index: number): string | undefined {
  let end = index - 1;
  while (end >= 0 && lines[end]!.trim() === '') end--;
  if (end < 0 || !lines[end]!.trim().endsWith('-->')) return undefined;
  let start = end;
  while (start >= 0 && !lines[start]!.includes('<!--')) start--;
  if (start < 0) return undefined;
  const text = lines.slice(start, end + 1).join('\n');
  return text.slice(text.indexOf('<!--') + 4, text.lastIndexOf('-->')).trim();
}

function parseMarker(comment: string | undefined, readmeDir: string, where: string): BlockMarker {
  if (comment === undefined) return { kind: 'run', setup: '' };
  const match = /^(setup|twin|not run):\s*([\s\S]*)$/.exec(comment);
  if (!match || match[2]!.trim() === '') {
    throw new Error(
      `${where}: the comment before this code block is no marker (<!-- setup: code -->, <!-- twin: path -->, <!-- not run: reason -->): <!-- ${comment} -->`,
    );
  }
  const value = match[2]!.trim();
  if (match[1] === 'setup') return { kind: 'run', setup: value };
  if (match[1] === 'twin') return { kind: 'twin', path: resolve(readmeDir, value) };
  return { kind: 'not-run', reason: value };
}

/** Every TypeScript or JavaScript block of one README (`readme` relative to the root). */
export function blocksOf(readme: string, root = REPOSITORY_ROOT): ReadmeBlock[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    let end = i + 1;
    while (end < lines.length && !lines[end]!.trimStart().startsWith(fence)) end++;
    const language = LANGUAGES[info.toLowerCase()];
    if (language) {
      const label = `${readme}:${i + 1}`;
      const code = dedent(lines.slice(i + 1, end).map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))).join('\n');
      const marker = parseMarker(commentBefore(lines, i), dirname(join(root, readme)), label);
      const runs = marker.kind === 'run' ? `${marker.setup}\n${code}` : '';
      const cloud = CLOUD_IMPORTS.find(([, pattern]) => pattern.test(runs))?.[0];
      blocks.push({ readme, line: i + 1, label, language, code, marker, cloud });
    }
    i = end;
  }
  return blocks;
}

/** The blocks of every checked README. */
export function readmeBlocks(root = REPOSITORY_ROOT): ReadmeBlock[] {
  return checkedReadmes(root).flatMap((readme) => blocksOf(readme, root));
}

/** The blocks that run against a server of `cloud`, which that cloud's vitest project runs. */
export function cloudBlocks(cloud: BlockCloud, root = REPOSITORY_ROOT): ReadmeBlock[] {
  return readmeBlocks(root).filter((block) => block.marker.kind === 'run' && block.cloud === cloud);
}

function dedent(lines: string[]): string[] {
  const trimmed = lines.map((line) => line.trimEnd());
  const indents = trimmed.filter((line) => line !== '').map((line) => line.length - line.trimStart().length);
  const cut = indents.length === 0 ? 0 : Math.min(...indents);
  return trimmed.map((line) => line.slice(cut));
}

const ELISION = /^\/\/\s*(…|\.\.\.)$/;

/**
 * Whether `excerpt` appears in `text` verbatim, ignoring indentation and trailing spaces:
 * each run of lines between `// …` lines contiguously, the runs in order.
 */
export function isVerbatimExcerpt(excerpt: string, text: string): boolean {
  const normalise = (line: string) => line.trim();
  const haystack = text.split('\n').map(normalise);
  const runs: string[][] = [[]];
  for (const line of excerpt.split('\n').map(normalise)) {
    if (ELISION.test(line)) runs.push([]);
    else runs.at(-1)!.push(line);
  }
  let from = 0;
  for (const run of runs) {
    while (run.length > 0 && run[0] === '') run.shift();
    while (run.length > 0 && run.at(-1) === '') run.pop();
    if (run.length === 0) continue;
    let found = -1;
    for (let at = from; at + run.length <= haystack.length && found < 0; at++) {
      if (run.every((line, k) => haystack[at + k] === line)) found = at;
    }
    if (found < 0) return false;
    from = found + run.length;
  }
  return true;
}

/** Where vitest finds tests (the root vitest.config.ts's `include`s, all projects). */
export function testFiles(root = REPOSITORY_ROOT): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.test.ts')) found.push(path);
    }
  };
  for (const dir of packageDirs(root)) walk(join(dir, 'test'));
  walk(join(root, 'examples'));
  return found;
}

/**
 * The test files that run `file` (absolute): the file itself if it is a test, and every
 * test whose text names it by its path relative to the test's folder (`'./quickstart.ts'`,
 * `'../examples/quickstart.ts'`), which is how a test imports or starts it.
 */
export function testsRunning(file: string, root = REPOSITORY_ROOT): string[] {
  return testFiles(root).filter((test) => {
    if (test === file) return true;
    let path = relative(dirname(test), file).split(sep).join('/');
    if (!path.startsWith('.')) path = `./${path}`;
    return readFileSync(test, 'utf8').includes(path);
  });
}

/** Where the blocks are written to run: inside the examples package, which depends on every public package and cloud SDK, so that their imports resolve as in a user's project. */
export const BLOCKS_DIR = join(REPOSITORY_ROOT, 'examples', '.readme-blocks');

/**
 * Writes a block (its setup first) to a file in `dir`, a folder of BLOCKS_DIR: `run` for
 * the blocks that run (each by one project: the local one or its cloud's), `typecheck`
 * for the type check, so that no file is rewritten while another process reads it.
 */
function writeBlock(block: ReadmeBlock, dir: 'run' | 'typecheck'): string {
  if (block.marker.kind !== 'run') throw new Error(`${block.label} is not a block that runs`);
  mkdirSync(join(BLOCKS_DIR, dir), { recursive: true });
  const name = `${block.readme.replace(/[^\w]+/g, '-')}-${block.line}.${block.language === 'ts' ? 'ts' : 'mjs'}`;
  const path = join(BLOCKS_DIR, dir, name);
  const setup = block.marker.setup ? `${block.marker.setup}\n` : '';
  writeFileSync(path, `${setup}${block.code}\n`);
  return path;
}

export interface BlockRun {
  code: number | null;
  signal: string | null;
  output: string;
  /** The file that ran, to look at after a failure. */
  file: string;
}

/**
 * Runs a block (its setup first) with Node, on the packages' TypeScript sources (as the
 * other child processes of the tests do, child-node.ts), in a fresh empty working folder
 * so that the files it writes (`./data`, `app.sqlite`) land nowhere else.
 */
export function runBlock(block: ReadmeBlock, options: RunOptions = {}): Promise<BlockRun> {
  return runSourceFile(writeBlock(block, 'run'), options);
}

export interface RunOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Default 60 s; then the child is killed. */
  timeoutMs?: number;
}

/**
 * Runs a TypeScript or JavaScript file as a user would run it with Node, but on the
 * packages' sources, in a fresh empty working folder that is removed afterwards. Resolves
 * (never rejects) with how it ended and what it printed.
 */
export function runSourceFile(file: string, options: RunOptions = {}): Promise<BlockRun> {
  const cwd = mkdtempSync(join(tmpdir(), 'blockvfs-readme-block-'));
  return new Promise((resolvePromise) => {
    execFile(
      process.execPath,
      [...sourceExecArgv(), file],
      { cwd, env: sourceEnv({ ...process.env, ...options.env }), timeout: options.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        rmSync(cwd, { recursive: true, force: true });
        const failure = error as (Error & { code?: number | string; signal?: string }) | null;
        resolvePromise({
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          signal: failure?.signal ?? null,
          output: `${stdout}${stderr}`,
          file,
        });
      },
    );
  });
}

/**
 * Type-checks the blocks that run (strict, like the packages), against the packages'
 * sources: the API a block calls must exist with those names and types, which running it
 * cannot show (an option under an old name is ignored at run time, not refused).
 * Resolves to tsc's report, empty when clean.
 */
export function typeCheckBlocks(blocks: readonly ReadmeBlock[], root = REPOSITORY_ROOT): Promise<string> {
  rmSync(join(BLOCKS_DIR, 'typecheck'), { recursive: true, force: true }); // no block left from an older README
  const files = blocks.filter((block) => block.marker.kind === 'run' && block.language === 'ts').map((block) => writeBlock(block, 'typecheck'));
  // Every export of every package to its sources, by the condition the tests run them with
  // (vitest.config.ts): so that no build is needed, and a subpath export (`@blockvfs/core/x`) resolves too.
  const paths: Record<string, string[]> = {};
  for (const dir of packageDirs(root)) {
    const { name, exports } = manifest(dir);
    for (const [subpath, conditions] of Object.entries(exports ?? {})) {
      const source = typeof conditions === 'object' ? conditions['@blockvfs/source'] : undefined;
      if (source) paths[join(name, subpath).split(sep).join('/')] = [join(dir, source)];
    }
  }
  const tsconfig = join(BLOCKS_DIR, 'typecheck', 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(root, 'tsconfig.base.json'),
      compilerOptions: { noEmit: true, paths },
      files,
    }),
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return new Promise((resolvePromise) => {
    execFile(process.execPath, [tsc, '-p', tsconfig], { cwd: dirname(tsconfig), maxBuffer: 16 << 20 }, (_error, stdout, stderr) =>
      resolvePromise(`${stdout}${stderr}`.trim()),
    );
  });
}

/**
 * The relative links (Markdown links and link definitions) of a README, but anchors
 * (`#section`). In a public package's README each of them leaves the published package:
 * the registry's page has no repository to resolve them against (the project has no
 * canonical repository URL), and the tarball holds only `dist`, `src` and the README.
 */
export function relativeLinks(readme: string): string[] {
  const text = readFileSync(readme, 'utf8');
  // `](target`, `](<target with spaces>`, and definitions `[label]: target`; images too.
  const links = [...text.matchAll(/\]\(\s*(?:<([^>]*)>|([^)\s]+))|^\s*\[[^\]]+\]:\s*<?([^>\s]+)/gm)].map((match) => (match[1] ?? match[2] ?? match[3])!);
  return links.filter((link) => !/^([a-z][a-z0-9+.-]*:|#)/i.test(link));
}
