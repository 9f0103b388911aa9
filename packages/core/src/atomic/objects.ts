import { BlockVfsError } from '../errors.js';
import { blockCount } from '../file-format.js';
import { FORMAT_VERSION, KIND_CHECKPOINT, KIND_COMMIT, KIND_HEAD, KIND_LEASE, KIND_SEGMENT, TRAILER_BYTES, decodeObject, encodeObject } from './encoding.js';

/**
 * The objects of the atomic layout (docs/atomic-format.md): their keys, and their
 * typed contents encoded in and decoded from the envelope of encoding.ts. Decoding
 * checks every field, so a damaged or foreign object is a `permanent` error that
 * names its key, never a wrong block map.
 */

const SOURCE = '@blockvfs/core';
const SEQ_DIGITS = 12;
const INDEX_DIGITS = 10;
const SEGMENT_DIGITS = 6;
const TAG = /^[0-9a-f]{16}$/;

export function atomicCommitKey(name: string, seq: number): string {
  return `${name}/log/${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

export function atomicCheckpointKey(name: string, seq: number): string {
  return `${name}/checkpoint/${String(seq).padStart(SEQ_DIGITS, '0')}`;
}

/**
 * Segment `segment` of checkpoint `seq` whose segments hold `segmentBlocks` blocks each
 * (a segmented checkpoint's map, in parts), beside its checkpoint. The segment size is
 * in the key: two writers of the same checkpoint that cut it differently never
 * overwrite each other's segments (the checkpoint that lands names its own).
 */
export function atomicSegmentKey(name: string, seq: number, segmentBlocks: number, segment: number): string {
  return `${atomicCheckpointKey(name, seq)}.${segmentBlocks}.${String(segment).padStart(SEGMENT_DIGITS, '0')}`;
}

export function atomicHeadKey(name: string): string {
  return `${name}/head`;
}

export function atomicLeaseKey(name: string): string {
  return `${name}/lease`;
}

export function atomicBlockKey(name: string, index: number, seq: number, tag: string): string {
  return `${name}/blocks/${String(index).padStart(INDEX_DIGITS, '0')}.${String(seq).padStart(SEQ_DIGITS, '0')}.${tag}`;
}

/** The prefixes a file's objects live under (for listing, by the garbage collector only). */
export function atomicPrefixes(name: string): { blocks: string; log: string; checkpoints: string } {
  return { blocks: `${name}/blocks/`, log: `${name}/log/`, checkpoints: `${name}/checkpoint/` };
}

/** `<index>.<seq>.<tag>` of a block key under `blocks/`, or undefined for a key that is not one. */
export function parseBlockKey(suffix: string): { index: number; seq: number; tag: string } | undefined {
  const match = /^(\d{10})\.(\d{12})\.([0-9a-f]{16})$/.exec(suffix);
  if (!match) return undefined;
  return { index: Number(match[1]), seq: Number(match[2]), tag: match[3] as string };
}

/** The seq of a key suffix under `log/` or `checkpoint/` (a checkpoint, not one of its segments), or undefined. */
export function parseSeqKey(suffix: string): number | undefined {
  return /^\d{12}$/.test(suffix) ? Number(suffix) : undefined;
}

/** The checkpoint seq of a key suffix under `checkpoint/`, and whether it is one of its segments, or undefined. */
export function parseCheckpointKey(suffix: string): { seq: number; segment: boolean } | undefined {
  const match = /^(\d{12})(\.[1-9]\d*\.\d{6})?$/.exec(suffix);
  if (!match) return undefined;
  return { seq: Number(match[1]), segment: match[2] !== undefined };
}

/** 8 random bytes as 16 hex digits: tells apart two writers' attempts at the same seq. */
export function randomTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A block a commit record names, stored as the object `atomicBlockKey(name, index, seq, tag)`. */
export interface BlockRef {
  index: number;
  /** CRC-32C of the object's bytes; undefined only in records of format version 1, which had none. */
  crc: number | undefined;
}

export interface CommitRecord {
  seq: number;
  tag: string;
  /** The writer's clock (ms since the epoch), never less than the previous record's. */
  time: number;
  size: number;
  blockSize: number;
  /** Blocks stored as block objects, ascending by index. */
  blocks: BlockRef[];
  /** Blocks carried inline, with their bytes (which the record's own CRC protects). */
  inline: Array<[number, Uint8Array]>;
}

/** Where a block of a checkpoint lives: the object written by commit `seq` with its `tag`. */
export interface CheckpointEntry {
  seq: number;
  tag: string;
  /** CRC-32C of the object's bytes; undefined for blocks written under format version 1. */
  crc: number | undefined;
}

export interface Checkpoint {
  seq: number;
  /** The time of commit `seq` (not of the checkpoint's writing): what time travel compares. */
  time: number;
  size: number;
  blockSize: number;
  /**
   * Block index → the commit whose block object holds it; undefined for a segmented
   * checkpoint, whose map is in its segments: segment k holds blocks k·segmentBlocks …
   * (k+1)·segmentBlocks − 1, one object each (`atomicSegmentKey`), for every block
   * below the file's size.
   */
  map: Map<number, CheckpointEntry> | undefined;
  /** Blocks per segment of a segmented checkpoint (undefined: the map is in the checkpoint itself). */
  segmentBlocks: number | undefined;
  /**
   * A segmented checkpoint's copy of the entries of a few blocks (those holding B-tree
   * interior pages, as far as its writer knew: every lookup passes through them), so
   * that reading them costs no segment first. Empty when unsegmented.
   */
  hot: Map<number, CheckpointEntry>;
}

export interface Head {
  /** The newest checkpoint (0: none yet). */
  checkpoint: number;
  /** Every checkpoint still kept, ascending (for time travel; the garbage collector trims it). */
  checkpoints: number[];
  /** The oldest commit that can still be opened (0 until a garbage collection deleted history). */
  oldest: number;
  blockSize: number;
}

export interface LeaseRecord {
  /** Who holds it: random per holder, so that a restarted process is a new owner. */
  owner: string;
  /** Until when, by the holder's clock (ms since the epoch); 0: released. */
  expires: number;
}

/**
 * A commit record's bytes, and its inline blocks as views of those bytes: what the
 * block map may keep after the commit (nobody changes an encoded record), so that a
 * commit copies its blocks once, into the record, and keeps no second copy.
 */
export function encodeRecord(record: CommitRecord): { bytes: Uint8Array; inline: Array<[number, Uint8Array]> } {
  const header = {
    seq: record.seq,
    tag: record.tag,
    time: record.time,
    size: record.size,
    blockSize: record.blockSize,
    // Version 2: [index, CRC-32C] per block object (version 1 had the index alone).
    blocks: record.blocks.map(({ index, crc }) => {
      if (crc === undefined) throw new BlockVfsError('invalid', `commit ${record.seq}: block ${index} has no checksum`, { source: SOURCE });
      return [index, crc];
    }),
    inline: record.inline.map(([index, data]) => [index, data.length]),
  };
  const bytes = encodeObject(
    KIND_COMMIT,
    header,
    record.inline.map(([, data]) => data),
  );
  // The payload ends right before the trailing checksum.
  let offset = bytes.length - TRAILER_BYTES - record.inline.reduce((sum, [, data]) => sum + data.length, 0);
  const inline = record.inline.map(([index, data]): [number, Uint8Array] => {
    const view = bytes.subarray(offset, offset + data.length);
    offset += data.length;
    return [index, view];
  });
  return { bytes, inline };
}

export function decodeRecord(bytes: Uint8Array, key: string, seq: number, store: string): CommitRecord {
  const check = new Checker(key, store);
  const { version, header, payload } = decodeObject(bytes, KIND_COMMIT, key, store);
  if (check.count(header.seq, 'seq') !== seq) check.fail(`it says seq ${String(header.seq)}`);
  const blocks: BlockRef[] = check.list(header.blocks, 'blocks').map((item) => {
    if (version === 1) return { index: check.count(item, 'blocks'), crc: undefined };
    const [index, crc] = check.pair(item, 'blocks');
    return { index, crc: check.uint32(crc, 'block checksum') };
  });
  const inline: Array<[number, Uint8Array]> = [];
  let offset = 0;
  for (const item of check.list(header.inline, 'inline')) {
    const [index, length] = check.pair(item, 'inline');
    if (offset + length > payload.length) check.fail('inline blocks run past the payload');
    inline.push([index, payload.slice(offset, offset + length)]);
    offset += length;
  }
  return {
    seq,
    tag: check.tag(header.tag),
    time: check.count(header.time, 'time'),
    size: check.count(header.size, 'size'),
    blockSize: check.positive(header.blockSize, 'blockSize'),
    blocks,
    inline,
  };
}

/**
 * A block map, run-length encoded in the header: [first, count, seq] covers blocks
 * first … first+count−1, written by commit seq (whose tag is `tags[seq]`). Version 2
 * adds each block's CRC-32C in the payload, 4 bytes (u32 LE) per block in ascending
 * index order, and `unchecked`: runs [first, count] of blocks written under version 1,
 * which have no checksum (0 in the payload). A checkpoint holds the whole map this way;
 * a segmented one (version 3) names none, and each of its segments holds its part.
 */
function encodeMap(entries: ReadonlyArray<readonly [number, CheckpointEntry]>): { fields: object; crcs: Uint8Array } {
  const runs: Array<[number, number, number]> = [];
  const unchecked: Array<[number, number]> = [];
  const tags: Record<string, string> = {};
  const sorted = [...entries].sort(([a], [b]) => a - b);
  const crcs = new Uint8Array(sorted.length * 4);
  const view = new DataView(crcs.buffer);
  sorted.forEach(([index, entry], i) => {
    tags[entry.seq] = entry.tag;
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === index && last[2] === entry.seq) last[1] += 1;
    else runs.push([index, 1, entry.seq]);
    if (entry.crc === undefined) {
      const open = unchecked[unchecked.length - 1];
      if (open && open[0] + open[1] === index) open[1] += 1;
      else unchecked.push([index, 1]);
    } else {
      view.setUint32(i * 4, entry.crc, true);
    }
  });
  return { fields: { map: runs, tags, unchecked }, crcs };
}

function decodeMap(check: Checker, version: number, header: Record<string, unknown>, payload: Uint8Array): Map<number, CheckpointEntry> {
  const tags = header.tags;
  if (typeof tags !== 'object' || tags === null) check.fail('no tags');
  const map = new Map<number, CheckpointEntry>();
  for (const run of check.list(header.map, 'map')) {
    if (!Array.isArray(run) || run.length !== 3) check.fail('bad map run');
    const [first, count, runSeq] = (run as unknown[]).map((n) => check.count(n, 'map')) as [number, number, number];
    const tag = check.tag((tags as Record<string, unknown>)[runSeq], `tag of seq ${runSeq}`);
    for (let index = first; index < first + count; index++) map.set(index, { seq: runSeq, tag, crc: undefined });
  }
  if (version >= 2) {
    if (payload.length !== map.size * 4) check.fail(`${payload.length} bytes of checksums for ${map.size} blocks`);
    const unchecked = new Set<number>();
    for (const run of check.list(header.unchecked, 'unchecked')) {
      const [first, count] = check.pair(run, 'unchecked');
      for (let index = first; index < first + count; index++) unchecked.add(index);
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    [...map.keys()]
      .sort((a, b) => a - b)
      .forEach((index, i) => {
        if (!unchecked.has(index)) (map.get(index) as CheckpointEntry).crc = view.getUint32(i * 4, true);
      });
  }
  return map;
}

/**
 * A checkpoint: with its map (version 2), or, segmented, with the size of its segments
 * and the entries of its hot blocks, encoded as a map is (version 3).
 */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const { seq, time, size, blockSize, map, segmentBlocks, hot } = checkpoint;
  if (map === undefined) {
    if (segmentBlocks === undefined) throw new BlockVfsError('invalid', `checkpoint ${seq} has neither a map nor segments`, { source: SOURCE });
    const { fields, crcs } = encodeMap([...hot]);
    return encodeObject(KIND_CHECKPOINT, { seq, time, size, blockSize, segmentBlocks, ...fields }, crcs, FORMAT_VERSION);
  }
  const { fields, crcs } = encodeMap([...map]);
  return encodeObject(KIND_CHECKPOINT, { seq, time, size, blockSize, ...fields }, crcs);
}

export function decodeCheckpoint(bytes: Uint8Array, key: string, seq: number, store: string): Checkpoint {
  const check = new Checker(key, store);
  const { version, header, payload } = decodeObject(bytes, KIND_CHECKPOINT, key, store);
  if (check.count(header.seq, 'seq') !== seq) check.fail(`it says seq ${String(header.seq)}`);
  const segmented = version >= 3 && header.segmentBlocks !== undefined;
  const size = check.count(header.size, 'size');
  const blockSize = check.positive(header.blockSize, 'blockSize');
  // A segmented root's hot entries are a map as any other; one written before they existed has none.
  const hot = segmented && header.map !== undefined ? decodeMap(check, version, header, payload) : new Map<number, CheckpointEntry>();
  for (const index of hot.keys()) if (index >= blockCount(size, blockSize)) check.fail(`hot block ${index} lies past the file's end`);
  return {
    seq,
    time: check.count(header.time, 'time'),
    size,
    blockSize,
    map: segmented ? undefined : decodeMap(check, version, header, payload),
    segmentBlocks: segmented ? check.positive(header.segmentBlocks, 'segmentBlocks') : undefined,
    hot,
  };
}

/** Segment `segment` of checkpoint `seq`: the entries of blocks `first` … `first + count − 1`. */
export function encodeSegment(
  seq: number,
  segment: number,
  first: number,
  count: number,
  entries: ReadonlyArray<readonly [number, CheckpointEntry]>,
): Uint8Array {
  const { fields, crcs } = encodeMap(entries);
  return encodeObject(KIND_SEGMENT, { checkpoint: seq, segment, first, count, ...fields }, crcs, FORMAT_VERSION);
}

/** Decodes segment `segment` of checkpoint `seq`, which must cover blocks `first` … `first + count − 1` and nothing else. */
export function decodeSegment(
  bytes: Uint8Array,
  key: string,
  seq: number,
  segment: number,
  first: number,
  count: number,
  store: string,
): Map<number, CheckpointEntry> {
  const check = new Checker(key, store);
  const { version, header, payload } = decodeObject(bytes, KIND_SEGMENT, key, store);
  if (check.count(header.checkpoint, 'checkpoint') !== seq) check.fail(`it belongs to checkpoint ${String(header.checkpoint)}`);
  if (check.count(header.segment, 'segment') !== segment) check.fail(`it says segment ${String(header.segment)}`);
  if (check.count(header.first, 'first') !== first || check.count(header.count, 'count') !== count) {
    check.fail(`it covers blocks ${String(header.first)} + ${String(header.count)}, not ${first} + ${count}`);
  }
  const map = decodeMap(check, version, header, payload);
  for (const index of map.keys()) if (index < first || index >= first + count) check.fail(`block ${index} lies outside the segment`);
  return map;
}

export function encodeHead(head: Head): Uint8Array {
  return encodeObject(KIND_HEAD, head);
}

export function decodeHead(bytes: Uint8Array, key: string, store: string): Head {
  const check = new Checker(key, store);
  const { header } = decodeObject(bytes, KIND_HEAD, key, store);
  const checkpoint = check.count(header.checkpoint, 'checkpoint');
  const checkpoints = check.list(header.checkpoints, 'checkpoints').map((n) => check.count(n, 'checkpoints'));
  for (let i = 1; i < checkpoints.length; i++) if ((checkpoints[i] as number) <= (checkpoints[i - 1] as number)) check.fail('checkpoints out of order');
  return { checkpoint, checkpoints, oldest: check.count(header.oldest, 'oldest'), blockSize: check.positive(header.blockSize, 'blockSize') };
}

export function encodeLease(lease: LeaseRecord): Uint8Array {
  return encodeObject(KIND_LEASE, lease);
}

export function decodeLease(bytes: Uint8Array, key: string, store: string): LeaseRecord {
  const check = new Checker(key, store);
  const { header } = decodeObject(bytes, KIND_LEASE, key, store);
  if (typeof header.owner !== 'string' || header.owner.length === 0) check.fail('bad owner');
  return { owner: header.owner as string, expires: check.count(header.expires, 'expires') };
}

/** Field checks for one object; every failure is a `permanent` error naming the object. */
class Checker {
  constructor(
    readonly key: string,
    readonly store: string,
  ) {}

  fail(what: string): never {
    throw new BlockVfsError('permanent', `"${this.key}" is not a valid object of the atomic layout: ${what}`, { source: SOURCE, store: this.store });
  }

  count(value: unknown, field: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(`bad ${field}`);
    return value as number;
  }

  positive(value: unknown, field: string): number {
    const n = this.count(value, field);
    if (n < 1) this.fail(`bad ${field}`);
    return n;
  }

  list(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) this.fail(`no ${field} list`);
    return value as unknown[];
  }

  pair(value: unknown, field: string): [number, number] {
    if (!Array.isArray(value) || value.length !== 2) this.fail(`bad ${field} entry`);
    return [this.count((value as unknown[])[0], field), this.count((value as unknown[])[1], field)];
  }

  uint32(value: unknown, field: string): number {
    const n = this.count(value, field);
    if (n > 0xffffffff) this.fail(`bad ${field}`);
    return n;
  }

  tag(value: unknown, field = 'tag'): string {
    if (typeof value !== 'string' || !TAG.test(value)) this.fail(`bad ${field}`);
    return value as string;
  }
}
