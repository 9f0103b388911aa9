// The scale step's table and its targets (issue 13, item 4): what an open and a commit
// cost must be flat from the smallest database to the largest.
import { ROW_TEXT_LENGTH } from './scale-setup.ts';
import type { LargestObject, Measured, ScaleResults, ScaleSizeResult, StateResult } from './scale.ts';

/** A figure is flat when the largest database's is at most this many times the smallest's. */
export const FLAT_RATIO = 1.5;

const kib = (bytes: number): string => (bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0);
const size = (megabytes: number): string => (megabytes >= 1000 ? `${megabytes / 1000} GB` : `${megabytes} MB`);
const total = (m: Measured): number => m.get + m.put + m.list + m.delete;

/** `8 GET`, `1 LIST`: each kind of request that occurred, with its count. */
function occurred(counts: Record<string, number>): string[] {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${n} ${kind}`);
}

/** `9 (8 GET, 1 LIST)`: the total, then each kind that occurred; `1 PUT` when there is one kind. */
function requests(m: Measured): string {
  const kinds = occurred({ GET: m.get, PUT: m.put, LIST: m.list, DELETE: m.delete });
  if (kinds.length === 0) return '0';
  return kinds.length === 1 ? (kinds[0] as string) : `${total(m)} (${kinds.join(', ')})`;
}

/** `8 (7 GET: 3 blocks, 3 segments; 1 PUT)`: a step's requests, its GETs split by what they fetched. */
function commitRequests(m: Measured): string {
  const other = m.get - m.blockGets - m.segmentGets;
  const gets = [
    `${m.blockGets} block${m.blockGets === 1 ? '' : 's'}`,
    `${m.segmentGets} segment${m.segmentGets === 1 ? '' : 's'}`,
    ...(other > 0 ? [`${other} other`] : []),
  ];
  const rest = occurred({ PUT: m.put, LIST: m.list, DELETE: m.delete });
  return `${total(m)} (${m.get} GET: ${gets.join(', ')}${rest.length > 0 ? `; ${rest.join(', ')}` : ''})`;
}

/** A commit's requests besides its block GETs: what the format adds to the pages SQLite reads (the look, map segments, the record). */
const formatRequests = (m: Measured): number => total(m) - m.blockGets;

const largest = (object: LargestObject | undefined): string => (object ? ` (${object.key}: ${kib(object.bytes)})` : '');

export function scaleMarkdown(scale: ScaleResults): string {
  const results = scale.sizes;
  if (results.length === 0) return '';
  const first = results[0] as ScaleSizeResult;
  const { updates } = scale;
  const where = scale.folder === '/dev/shm' ? '/dev/shm (tmpfs: fsync costs nothing there; see scale-setup.ts)' : scale.folder;
  const lines = [
    `### Scale: databases of ${results.map((r) => size(r.megabytes)).join(', ')}, fs store, ${scale.latency} ms per request, ${first.blockSize}-byte blocks`,
    '',
    `Each database is \`t(id INTEGER PRIMARY KEY, v TEXT)\`, rows of ${ROW_TEXT_LENGTH} characters in 4 KiB pages, written by better-sqlite3 and imported with deserialize (one commit),`,
    `then measured; then ${updates.toLocaleString('en')} UPDATEs of random rows are made (each its own commit, writer lease held, automatic checkpoints every 100 commits,`,
    `no latency, counted below), and it is measured again. Open: a fresh store object (nothing cached). Commit: one UPDATE of a random row on that connection`,
    `(its reads include the row's B-tree path, cold). Checkpoint: db.checkpoint() after ${scale.commitsBeforeCheckpoint} commits. GC: collectGarbage on a fresh store object, keeping only the`,
    `newest commit (retention 0, its clock past the grace period). KiB in parentheses: the largest object read or written. Store folder: ${where}.`,
    'A checkpoint of a file of more than 1024 blocks is segmented (docs/atomic-format.md §5): an open reads its segment 0 only, and the first read of a block',
    "in another segment costs one GET more; the checkpoint keeps the entries of the blocks holding B-tree interior pages itself, so a cold commit's path loads",
    "its leaf's segment only. An import is followed by a checkpoint when it names more than 4096 blocks.",
    "A commit's GETs are split into block objects (the pages of the row's B-tree path that no cache held: one per level not in block 0, so a deeper B-tree costs one more),",
    "checkpoint segments, and other (the look for other writers' commits).",
    '',
    '| size | updates before | open: requests | open: KiB read | open s | commit: requests | commit: KiB read | commit: KiB written | commit s | checkpoint: requests | checkpoint: KiB written | checkpoint s | GC s | GC requests | GC deleted objects |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    for (const s of r.states) {
      lines.push(
        `| ${size(r.megabytes)} | ${s.updates.toLocaleString('en')} | ${requests(s.open)} | ${kib(s.open.bytesRead)}${largest(s.open.largestGet)} | ${s.open.seconds.toFixed(2)} | ` +
          `${commitRequests(s.commit)} | ${kib(s.commit.bytesRead)} | ${kib(s.commit.bytesWritten)} | ${s.commit.seconds.toFixed(2)} | ` +
          `${requests(s.checkpoint)} | ${kib(s.checkpoint.bytesWritten)}${largest(s.checkpoint.largestPut)} | ${s.checkpoint.seconds.toFixed(2)} | ` +
          `${s.gc.seconds.toFixed(2)} | ${requests(s.gc)} | ${s.gc.deletedObjects.toLocaleString('en')} |`,
      );
    }
  }
  lines.push(
    '',
    `The ${updates.toLocaleString('en')} updates, per commit (automatic checkpoints and the blocks they fold included; no latency). Block GETs are the leaves`,
    "(and interior pages) of random rows that the connection's 32 MiB block cache does not hold: none once a whole 10 MB database is in it, about one per",
    'update at 2 GB, whatever the format; what the format adds is the rest:',
    '',
    '| size | file MB | blocks | requests per commit | KiB written per commit | KiB read per commit | largest object written | median commit ms | slowest commit ms | s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of results) {
    const u = r.updateRun;
    const per = (n: number) => (n / u.commits).toFixed(2);
    lines.push(
      `| ${size(r.megabytes)} | ${(r.fileBytes / 1e6).toFixed(0)} | ${r.blocks.toLocaleString('en')} | ${per(total(u))} (${per(u.get)} GET: ${per(u.blockGets)} blocks, ${per(u.segmentGets)} segments; ${per(u.put)} PUT) | ` +
        `${kib(u.bytesWritten / u.commits)} | ${kib(u.bytesRead / u.commits)} | ${u.largestPut ? `${u.largestPut.key}: ${kib(u.largestPut.bytes)} KiB` : ''} | ` +
        `${u.medianCommitMs.toFixed(1)} | ${u.slowestCommitMs.toFixed(0)} | ${u.seconds.toFixed(1)} |`,
    );
  }
  lines.push(
    '',
    `Time per size (setup: writing and importing the file): ${results.map((r) => `${size(r.megabytes)} ${r.seconds.toFixed(0)} s (setup ${r.setupSeconds.toFixed(0)} s)`).join(', ')}.`,
    '',
    `Targets: flat per-commit and per-open costs, flat meaning the ${size(results[results.length - 1]?.megabytes ?? 0)} figure at most ${FLAT_RATIO}× the ${size(first.megabytes)} one:`,
    '',
    ...scaleTargets(results).map((line) => `- ${line}`),
    '',
  );
  return lines.join('\n');
}

/** Each per-commit and per-open figure, smallest database against largest, per state: flat or not. */
export function scaleTargets(results: ScaleSizeResult[]): string[] {
  const smallest = results[0];
  const largestRun = results[results.length - 1];
  if (!smallest || !largestRun || smallest === largestRun) return ['one size only: nothing to compare'];
  const figures: Array<[string, (s: StateResult) => number, (n: number) => string]> = [
    ['open requests', (s) => total(s.open), String],
    ['open KiB read', (s) => s.open.bytesRead, kib],
    ['commit requests', (s) => total(s.commit), String],
    ['commit requests besides block GETs', (s) => formatRequests(s.commit), String],
    ['commit KiB read', (s) => s.commit.bytesRead, kib],
    ['commit KiB written', (s) => s.commit.bytesWritten, kib],
  ];
  const out: string[] = [];
  smallest.states.forEach((state, i) => {
    const big = largestRun.states[i];
    if (!big) return;
    const checks = figures.map(([what, figure, show]) => flat(what, figure(state), figure(big), show));
    out.push(`after ${state.updates.toLocaleString('en')} updates: ${checks.join('; ')}`);
  });
  const perCommit = (r: ScaleSizeResult, n: number) => n / r.updateRun.commits;
  out.push(
    `over the updates, per commit: ${flat('requests', perCommit(smallest, total(smallest.updateRun)), perCommit(largestRun, total(largestRun.updateRun)), (n) => n.toFixed(2))}; ` +
      `${flat('requests besides block GETs', perCommit(smallest, formatRequests(smallest.updateRun)), perCommit(largestRun, formatRequests(largestRun.updateRun)), (n) => n.toFixed(2))}; ` +
      `${flat('KiB written', perCommit(smallest, smallest.updateRun.bytesWritten), perCommit(largestRun, largestRun.updateRun.bytesWritten), kib)}`,
  );
  return out;
}

function flat(what: string, small: number, big: number, show: (n: number) => string): string {
  const ratio = small === 0 ? (big === 0 ? 1 : Number.POSITIVE_INFINITY) : big / small;
  return `${what} ${show(small)} → ${show(big)} (${ratio.toFixed(2)}×): ${ratio <= FLAT_RATIO ? 'met' : 'NOT met'}`;
}
