import type { BlockStore } from '../block-store.js';
import { crc32c } from '../checksum.js';
import { forEachLimit } from '../concurrency.js';
import { isBlockVfsError } from '../errors.js';
import { blockLength } from '../file-format.js';
import { loadWholeMap, readHead, readCheckpointState, stateAt } from './history.js';
import { readKeptHistory } from './kept-history.js';
import { checkInspectOptions, type InspectOptions } from './inspect.js';
import { atomicBlockKey, atomicCheckpointKey, atomicLeaseKey, atomicPrefixes, decodeLease, parseBlockKey } from './objects.js';

/**
 * Checks every object an atomic-layout database keeps against what names it: the head,
 * every kept checkpoint and commit record (each one's envelope CRC-32 and fields, and no
 * record missing between the oldest kept commit and the newest), and every block object
 * a kept commit or checkpoint names: present, of its block's length, and with the CRC-32C
 * its commit recorded (blocks written under format version 1 have their length checked
 * only). It reads every block object once, so it costs as much as an export. A
 * garbage collection running meanwhile is no damage: a checkpoint (with its segments) or
 * a block object it deleted, which no kept commit needs any more, is not reported.
 */

const PARALLEL_REQUESTS = 16;

export interface VerifyProgress {
  phase: 'history' | 'blocks';
  /** Block objects checked so far, of `totalObjects`, and their bytes. */
  objects: number;
  totalObjects: number;
  bytes: number;
}

export interface VerifyOptions extends InspectOptions {
  onProgress?: (progress: VerifyProgress) => void;
}

export interface VerifyReport {
  /** True when nothing is wrong. */
  ok: boolean;
  /** One line per problem, naming the object. */
  problems: string[];
  checked: { records: number; checkpoints: number; blocks: number; bytes: number };
}

/**
 * Which missing block objects a garbage collection that ran during the verify deleted
 * (the head's `oldest` moved past `oldest`): a block of a commit at or below the new
 * oldest kept commit that the state there no longer names is garbage, not damage. A
 * block a kept commit still needs is never excused.
 */
async function collectedMeanwhile(store: BlockStore, name: string, oldest: number, blockSize: number): Promise<(key: string) => boolean> {
  const head = await readHead(store, name);
  if (!head || head.oldest <= oldest) return () => false;
  let live: Set<string>;
  try {
    const base = await stateAt(store, name, head.oldest, blockSize, head);
    await loadWholeMap(base);
    live = new Set(base.map.entries().map(([index, entry]) => atomicBlockKey(name, index, entry.seq, entry.tag)));
  } catch (error) {
    if (isBlockVfsError(error, 'transient') || isBlockVfsError(error, 'not-found')) return () => false; // moved on again: report them
    throw error;
  }
  const prefix = atomicPrefixes(name).blocks;
  return (key) => {
    const block = parseBlockKey(key.slice(prefix.length));
    return block !== undefined && block.seq <= head.oldest && !live.has(key);
  };
}

interface NamedBlock {
  key: string;
  length: number;
  crc: number | undefined;
  /** Who names it, for the message. */
  by: string;
}

export async function verifyObjects(options: VerifyOptions): Promise<VerifyReport> {
  const { store, name } = checkInspectOptions(options, 'verifyObjects');
  const progress = options.onProgress ?? (() => undefined);
  const problems: string[] = [];
  const checked = { records: 0, checkpoints: 0, blocks: 0, bytes: 0 };
  progress({ phase: 'history', objects: 0, totalObjects: 0, bytes: 0 });

  let history: Awaited<ReturnType<typeof readKeptHistory>>;
  try {
    // Decodes the head, the checkpoints an open reads and every kept record (CRC and fields), and finds gaps.
    history = await readKeptHistory(store, name);
  } catch (error) {
    if (!isBlockVfsError(error, 'permanent')) throw error;
    return { ok: false, problems: [error.message], checked };
  }
  const { latest, head, records } = history;
  checked.records = records.length;
  const blockSize = latest.blockSize;

  const named = new Map<string, NamedBlock>();
  const name_ = (key: string, block: NamedBlock): void => {
    if (!named.has(key)) named.set(key, block);
  };
  for (const record of records) {
    for (const { index, crc } of record.blocks) {
      const key = atomicBlockKey(name, index, record.seq, record.tag);
      name_(key, { key, length: blockLength(index, record.size, blockSize), crc, by: `commit ${record.seq}` });
    }
  }
  // Every checkpoint the head lists: a time-travel open may start from any of them.
  for (const seq of head?.checkpoints ?? []) {
    let state;
    try {
      // Strict: a missing segment is a problem to report, not one to read around.
      state = await readCheckpointState(store, name, seq, true);
      if (state) await loadWholeMap(state);
    } catch (error) {
      // A collection running now may have removed it with its segments (the head then no longer lists it): not damage.
      if (isBlockVfsError(error, 'transient') && !(await readHead(store, name))?.checkpoints.includes(seq)) continue;
      if (!isBlockVfsError(error, 'permanent')) throw error;
      problems.push(error.message);
      continue;
    }
    if (!state) {
      // A collection running now may have dropped it from the head; only a checkpoint the head still lists is missing.
      if ((await readHead(store, name))?.checkpoints.includes(seq))
        problems.push(`checkpoint ${seq} ("${atomicCheckpointKey(name, seq)}"), which the head lists, is missing`);
      continue;
    }
    checked.checkpoints += 1;
    for (const [index, entry] of state.map.entries()) {
      const key = atomicBlockKey(name, index, entry.seq, entry.tag);
      name_(key, { key, length: blockLength(index, state.size, blockSize), crc: entry.crc, by: `checkpoint ${seq}` });
    }
  }
  // Before any checkpoint, the oldest kept state is the empty file; otherwise its checkpoint is in the head's list.
  const leaseKey = atomicLeaseKey(name);
  try {
    const lease = await store.get(leaseKey);
    if (lease) decodeLease(lease, leaseKey, store.name);
  } catch (error) {
    if (!isBlockVfsError(error, 'permanent')) throw error;
    problems.push(error.message);
  }

  const blocks = [...named.values()];
  const missing: NamedBlock[] = [];
  progress({ phase: 'blocks', objects: 0, totalObjects: blocks.length, bytes: 0 });
  await forEachLimit(blocks, PARALLEL_REQUESTS, async (block) => {
    const bytes = await store.get(block.key);
    checked.blocks += 1;
    if (bytes === undefined) missing.push(block);
    else {
      checked.bytes += bytes.length;
      if (bytes.length !== block.length) problems.push(`block object "${block.key}" (named by ${block.by}) has ${bytes.length} bytes, not ${block.length}`);
      else if (block.crc !== undefined && crc32c(bytes) !== block.crc)
        problems.push(`block object "${block.key}" (named by ${block.by}) fails its CRC-32C check`);
    }
    progress({ phase: 'blocks', objects: checked.blocks, totalObjects: blocks.length, bytes: checked.bytes });
  });
  const collected = missing.length > 0 ? await collectedMeanwhile(store, name, head?.oldest ?? 0, blockSize) : () => false;
  for (const block of missing) if (!collected(block.key)) problems.push(`block object "${block.key}" (named by ${block.by}) is missing`);
  problems.sort();
  return { ok: problems.length === 0, problems, checked };
}
