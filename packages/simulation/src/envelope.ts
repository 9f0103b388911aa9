import { crc32 } from 'node:zlib';

/**
 * A decoder of the atomic layout's objects written from docs/atomic-format.md §2, not
 * taken from core: the format monitor must not share core's reading of the format, or a
 * mistake in it would be invisible. Throws an Error saying what is wrong.
 */

export const KIND = { record: 1, checkpoint: 2, head: 3, lease: 4 } as const;
export type Kind = keyof typeof KIND;

const MAGIC = 'BVFSATOM';

export interface RecordObject {
  seq: number;
  tag: string;
  time: number;
  size: number;
  blockSize: number;
  blocks: number[];
  /** index and bytes of each inline block, in payload order. */
  inline: Array<[number, Uint8Array]>;
}

export interface CheckpointObject {
  seq: number;
  time: number;
  size: number;
  blockSize: number;
  map: Map<number, { seq: number; tag: string }>;
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

function open(bytes: Uint8Array, kind: Kind): { header: Record<string, unknown>; payload: Uint8Array } {
  if (bytes.length < 20) throw new Error(`only ${bytes.length} bytes`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(8, true) !== 1) throw new Error(`version ${view.getUint16(8, true)}`);
  if (view.getUint8(10) !== KIND[kind]) throw new Error(`kind ${view.getUint8(10)}, expected ${KIND[kind]} (${kind})`);
  if (view.getUint8(11) !== 0) throw new Error('reserved byte not 0');
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength + 4 > bytes.length) throw new Error('header runs past the end');
  const crc = view.getUint32(bytes.length - 4, true);
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== crc) throw new Error('CRC mismatch');
  const header: unknown = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('header is not a JSON object');
  return { header: header as Record<string, unknown>, payload: bytes.subarray(16 + headerLength, bytes.length - 4) };
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
  const { header, payload } = open(bytes, 'record');
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
    blocks: counts(header.blocks, 'blocks'),
    inline,
  };
}

export function decodeCheckpointObject(bytes: Uint8Array): CheckpointObject {
  const { header } = open(bytes, 'checkpoint');
  const tags = header.tags;
  if (typeof tags !== 'object' || tags === null) throw new Error('no tags');
  if (!Array.isArray(header.map)) throw new Error('map is not a list');
  const map = new Map<number, { seq: number; tag: string }>();
  for (const run of header.map) {
    if (!Array.isArray(run) || run.length !== 3) throw new Error('bad map run');
    const [first, length, seq] = [count(run[0], 'run first'), count(run[1], 'run count'), count(run[2], 'run seq')];
    const runTag = tag((tags as Record<string, unknown>)[String(seq)], `tag of seq ${seq}`);
    for (let index = first; index < first + length; index++) {
      if (map.has(index)) throw new Error(`block ${index} in two runs`);
      map.set(index, { seq, tag: runTag });
    }
  }
  return { seq: count(header.seq, 'seq'), time: count(header.time, 'time'), size: count(header.size, 'size'), blockSize: count(header.blockSize, 'blockSize'), map };
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
