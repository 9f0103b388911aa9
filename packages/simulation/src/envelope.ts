import { crc32 } from 'node:zlib';

/**
 * A decoder of the atomic layout's objects written from docs/atomic-format.md §2, not
 * taken from core: the format monitor must not share core's reading of the format, or a
 * mistake in it would be invisible. Throws an Error saying what is wrong. Reads format
 * versions 1 to 3 (version 2 adds a CRC-32C of every block object to records and
 * checkpoints; version 3, segmented checkpoints and their segments, and only those).
 */

export const KIND = { record: 1, checkpoint: 2, head: 3, lease: 4, segment: 5 } as const;
export type Kind = keyof typeof KIND;

const MAGIC = 'BVFSATOM';

export interface RecordObject {
  seq: number;
  tag: string;
  time: number;
  size: number;
  blockSize: number;
  blocks: number[];
  /** Version 2: the CRC-32C of each block object, by index. */
  crcs: Map<number, number>;
  /** index and bytes of each inline block, in payload order. */
  inline: Array<[number, Uint8Array]>;
}

export type MapEntries = Map<number, { seq: number; tag: string; crc?: number }>;

export interface CheckpointObject {
  seq: number;
  time: number;
  size: number;
  blockSize: number;
  /** The whole map; undefined for a segmented checkpoint (version 3), whose segments hold it. */
  map: MapEntries | undefined;
  /** A segmented checkpoint's blocks per segment. */
  segmentBlocks: number | undefined;
  /** A segmented checkpoint's copies of some blocks' entries (its hot blocks), as its segments hold them; empty otherwise. */
  hot: MapEntries;
}

export interface SegmentObject {
  checkpoint: number;
  segment: number;
  first: number;
  count: number;
  map: MapEntries;
}

export interface HeadObject {
  checkpoint: number;
  checkpoints: number[];
  oldest: number;
  blockSize: number;
}

export interface LeaseObject {
  owner: string;
  expires: number;
}

function open(bytes: Uint8Array, kind: Kind): { version: number; header: Record<string, unknown>; payload: Uint8Array } {
  if (bytes.length < 20) throw new Error(`only ${bytes.length} bytes`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== 1 && version !== 2 && version !== 3) throw new Error(`version ${version}`);
  // Version 3 is only for segmented checkpoints and their segments; a segment is never older.
  if (version === 3 ? kind !== 'checkpoint' && kind !== 'segment' : kind === 'segment') throw new Error(`version ${version} for a ${kind}`);
  if (view.getUint8(10) !== KIND[kind]) throw new Error(`kind ${view.getUint8(10)}, expected ${KIND[kind]} (${kind})`);
  if (view.getUint8(11) !== 0) throw new Error('reserved byte not 0');
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength + 4 > bytes.length) throw new Error('header runs past the end');
  const crc = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== crc) throw new Error('CRC mismatch');
  const header: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('header is not a JSON object');
  return { version, header: header as Record<string, unknown>, payload: bytes.subarray(16 + headerLength, bytes.length - 4) };
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new Error(`bad ${field}: ${JSON.stringify(value)}`);
  return value;
}

function counts(value: unknown, field: string): number[] {
  if (!Array.isArray(value)) throw new Error(`${field} is not a list`);
  return value.map((item) => count(item, field));
}

function tag(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{16}$/.test(value)) throw new Error(`bad ${field}: ${JSON.stringify(value)}`);
  return value;
}

export function decodeRecordObject(bytes: Uint8Array): RecordObject {
  const { version, header, payload } = open(bytes, 'record');
  const inline: Array<[number, Uint8Array]> = [];
  if (!Array.isArray(header.inline)) throw new Error('inline is not a list');
  let offset = 0;
  for (const item of header.inline) {
    if (!Array.isArray(item) || item.length !== 2) throw new Error('bad inline entry');
    const index = count(item[0], 'inline index');
    const length = count(item[1], 'inline length');
    if (offset + length > payload.length) throw new Error('inline blocks run past the payload');
    inline.push([index, payload.slice(offset, offset + length)]);
    offset += length;
  }
  if (offset !== payload.length) throw new Error(`payload has ${payload.length - offset} bytes no inline entry accounts for`);
  const blockSize = count(header.blockSize, 'blockSize');
  if (blockSize < 1) throw new Error('blockSize 0');
  return {
    seq: count(header.seq, 'seq'),
    tag: tag(header.tag, 'tag'),
    time: count(header.time, 'time'),
    size: count(header.size, 'size'),
    blockSize,
    ...blocksOf(version, header.blocks),
    inline,
  };
}

/** Version 1: `blocks: [index…]`; version 2: `blocks: [[index, crc32c]…]`. */
function blocksOf(version: number, value: unknown): { blocks: number[]; crcs: Map<number, number> } {
  if (version === 1) return { blocks: counts(value, 'blocks'), crcs: new Map() };
  if (!Array.isArray(value)) throw new Error('blocks is not a list');
  const crcs = new Map<number, number>();
  const blocks = value.map((item) => {
    if (!Array.isArray(item) || item.length !== 2) throw new Error('bad blocks entry');
    const index = count(item[0], 'block index');
    const crc = count(item[1], 'block checksum');
    if (crc > 0xffffffff) throw new Error('bad block checksum');
    crcs.set(index, crc);
    return index;
  });
  return { blocks, crcs };
}

export function decodeCheckpointObject(bytes: Uint8Array): CheckpointObject {
  const { version, header, payload } = open(bytes, 'checkpoint');
  const segmented = version === 3;
  return {
    seq: count(header.seq, 'seq'),
    time: count(header.time, 'time'),
    size: count(header.size, 'size'),
    blockSize: count(header.blockSize, 'blockSize'),
    map: segmented ? undefined : mapOf(version, header, payload),
    segmentBlocks: segmented ? positive(header.segmentBlocks, 'segmentBlocks') : undefined,
    // Written as a map is; a segmented root may have none.
    hot: segmented && header.map !== undefined ? mapOf(version, header, payload) : new Map(),
  };
}

/** A segment of a segmented checkpoint: the map of blocks first … first+count−1, as a checkpoint holds its whole map. */
export function decodeSegmentObject(bytes: Uint8Array): SegmentObject {
  const { version, header, payload } = open(bytes, 'segment');
  const first = count(header.first, 'first');
  const length = count(header.count, 'count');
  const map = mapOf(version, header, payload);
  for (const index of map.keys()) if (index < first || index >= first + length) throw new Error(`block ${index} outside the segment`);
  return { checkpoint: count(header.checkpoint, 'checkpoint'), segment: count(header.segment, 'segment'), first, count: length, map };
}

function positive(value: unknown, field: string): number {
  const n = count(value, field);
  if (n < 1) throw new Error(`bad ${field}: 0`);
  return n;
}

/** The run-length map of a checkpoint or a segment, with its checksums (version 2 on). */
function mapOf(version: number, header: Record<string, unknown>, payload: Uint8Array): MapEntries {
  const tags = header.tags;
  if (typeof tags !== 'object' || tags === null) throw new Error('no tags');
  if (!Array.isArray(header.map)) throw new Error('map is not a list');
  const map = new Map<number, { seq: number; tag: string; crc?: number }>();
  for (const run of header.map) {
    if (!Array.isArray(run) || run.length !== 3) throw new Error('bad map run');
    const [first, length, seq] = [count(run[0], 'run first'), count(run[1], 'run count'), count(run[2], 'run seq')];
    const runTag = tag((tags as Record<string, unknown>)[String(seq)], `tag of seq ${seq}`);
    for (let index = first; index < first + length; index++) {
      if (map.has(index)) throw new Error(`block ${index} in two runs`);
      map.set(index, { seq, tag: runTag });
    }
  }
  if (version >= 2) {
    // The payload: each block's CRC-32C (u32 LE) in ascending index order; `unchecked` runs (blocks of version 1 commits) have none.
    if (payload.length !== map.size * 4) throw new Error(`${payload.length} bytes of checksums for ${map.size} blocks`);
    if (!Array.isArray(header.unchecked)) throw new Error('unchecked is not a list');
    const unchecked = new Set<number>();
    for (const run of header.unchecked) {
      if (!Array.isArray(run) || run.length !== 2) throw new Error('bad unchecked run');
      for (let index = count(run[0], 'unchecked first'); index < count(run[0], 'unchecked first') + count(run[1], 'unchecked count'); index++)
        unchecked.add(index);
    }
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    [...map.keys()]
      .sort((a, b) => a - b)
      .forEach((index, i) => {
        if (!unchecked.has(index)) (map.get(index) as { crc?: number }).crc = view.getUint32(i * 4, true);
      });
  }
  return map;
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32C (Castagnoli), as version 2 stores for block objects. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = (CRC32C_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function decodeHeadObject(bytes: Uint8Array): HeadObject {
  const { header } = open(bytes, 'head');
  return {
    checkpoint: count(header.checkpoint, 'checkpoint'),
    checkpoints: counts(header.checkpoints, 'checkpoints'),
    oldest: count(header.oldest, 'oldest'),
    blockSize: count(header.blockSize, 'blockSize'),
  };
}

export function decodeLeaseObject(bytes: Uint8Array): LeaseObject {
  const { header } = open(bytes, 'lease');
  if (typeof header.owner !== 'string' || header.owner.length === 0) throw new Error('bad owner');
  return { owner: header.owner, expires: count(header.expires, 'expires') };
}

/** What a key of file `name` is, or undefined for a key of another file. */
export type ParsedKey =
  | { kind: 'head' }
  | { kind: 'lease' }
  | { kind: 'record'; seq: number }
  | { kind: 'checkpoint'; seq: number }
  | { kind: 'segment'; seq: number; segmentBlocks: number; segment: number }
  | { kind: 'block'; index: number; seq: number; tag: string }
  | { kind: 'unknown' };

export function parseKey(name: string, key: string): ParsedKey | undefined {
  if (!key.startsWith(`${name}/`)) return undefined;
  const rest = key.slice(name.length + 1);
  if (rest === 'head') return { kind: 'head' };
  if (rest === 'lease') return { kind: 'lease' };
  let match = /^log\/(\d{12})$/.exec(rest);
  if (match) return { kind: 'record', seq: Number(match[1]) };
  match = /^checkpoint\/(\d{12})$/.exec(rest);
  if (match) return { kind: 'checkpoint', seq: Number(match[1]) };
  match = /^checkpoint\/(\d{12})\.([1-9]\d*)\.(\d{6})$/.exec(rest);
  if (match) return { kind: 'segment', seq: Number(match[1]), segmentBlocks: Number(match[2]), segment: Number(match[3]) };
  match = /^blocks\/(\d{10})\.(\d{12})\.([0-9a-f]{16})$/.exec(rest);
  if (match) return { kind: 'block', index: Number(match[1]), seq: Number(match[2]), tag: match[3] as string };
  return { kind: 'unknown' };
}

export function blockKeyOf(name: string, index: number, seq: number, blockTag: string): string {
  return `${name}/blocks/${String(index).padStart(10, '0')}.${String(seq).padStart(12, '0')}.${blockTag}`;
}

export function checkpointKeyOf(name: string, seq: number): string {
  return `${name}/checkpoint/${String(seq).padStart(12, '0')}`;
}

export function segmentKeyOf(name: string, seq: number, segmentBlocks: number, segment: number): string {
  return `${checkpointKeyOf(name, seq)}.${segmentBlocks}.${String(segment).padStart(6, '0')}`;
}
