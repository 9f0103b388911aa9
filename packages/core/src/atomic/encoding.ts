import { crc32 } from '../checksum.js';
import { BlockVfsError } from '../errors.js';

/**
 * The envelope of every object of the atomic layout that is not a block (commit
 * records, checkpoints, the head, the writer lease); see docs/atomic-format.md.
 *
 * ```
 *  0  8 bytes  magic "BVFSATOM"
 *  8  u16 LE   format version (2; 1 is still read)
 * 10  u8       kind (1 commit, 2 checkpoint, 3 head, 4 lease, 5 checkpoint segment)
 * 11  u8       reserved, 0
 * 12  u32 LE   header length H
 * 16  H bytes  header: UTF-8 JSON object
 * 16+H …       payload: raw bytes (the inline blocks of a commit), possibly empty
 * end-4 u32 LE CRC-32 (IEEE) of every byte before it
 * ```
 */

/**
 * The newest version read. Version 2 added block checksums to commit records and
 * checkpoints (objects.ts); heads and leases are the same in both. Version 3 added
 * segmented checkpoints (a checkpoint of a large file names segments of its block map,
 * each its own object); only those objects carry version 3, everything else is still
 * written as version 2, so that a database that never grew a segmented checkpoint stays
 * readable by a blockvfs that reads version 2. Version 1 objects are still read, so
 * databases written before keep opening (and then grow newer records on top of their
 * version 1 history).
 */
export const FORMAT_VERSION = 3;
/** The version of every object but segmented checkpoints and their segments. */
export const BASE_VERSION = 2;
export const OLDEST_READABLE_VERSION = 1;
const MAGIC = new TextEncoder().encode('BVFSATOM');
const PREFIX_BYTES = 16;
/** The bytes after an object's payload: its checksum. */
export const TRAILER_BYTES = 4;

export const KIND_COMMIT = 1;
export const KIND_CHECKPOINT = 2;
export const KIND_HEAD = 3;
export const KIND_LEASE = 4;
export const KIND_SEGMENT = 5;
export type ObjectKind = typeof KIND_COMMIT | typeof KIND_CHECKPOINT | typeof KIND_HEAD | typeof KIND_LEASE | typeof KIND_SEGMENT;
const KIND_NAMES: Record<ObjectKind, string> = { 1: 'commit record', 2: 'checkpoint', 3: 'head', 4: 'writer lease', 5: 'checkpoint segment' };

const SOURCE = '@blockvfs/core';

export interface Decoded {
  /** The object's format version (OLDEST_READABLE_VERSION … FORMAT_VERSION). */
  version: number;
  header: Record<string, unknown>;
  payload: Uint8Array;
}

/**
 * `payload` may come in parts (a commit's inline blocks), laid end to end: copied once,
 * into the object, rather than first into a payload of their own.
 */
export function encodeObject(
  kind: ObjectKind,
  header: object,
  payload: Uint8Array | readonly Uint8Array[] = [],
  version: typeof BASE_VERSION | typeof FORMAT_VERSION = BASE_VERSION,
): Uint8Array {
  const parts = payload instanceof Uint8Array ? [payload] : payload;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const payloadLength = parts.reduce((sum, part) => sum + part.length, 0);
  const bytes = new Uint8Array(PREFIX_BYTES + json.length + payloadLength + TRAILER_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint16(8, version, true);
  view.setUint8(10, kind);
  view.setUint8(11, 0);
  view.setUint32(12, json.length, true);
  bytes.set(json, PREFIX_BYTES);
  let offset = PREFIX_BYTES + json.length;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  view.setUint32(bytes.length - TRAILER_BYTES, crc32(bytes.subarray(0, bytes.length - TRAILER_BYTES)), true);
  return bytes;
}

/** Decodes an object of the expected kind, or throws a `permanent` error naming `key` and what is wrong. */
export function decodeObject(bytes: Uint8Array, kind: ObjectKind, key: string, store: string): Decoded {
  const fail = (what: string): never => {
    throw new BlockVfsError('permanent', `"${key}" is not a valid ${KIND_NAMES[kind]} of the atomic layout: ${what}`, { source: SOURCE, store });
  };
  if (bytes.length < PREFIX_BYTES + TRAILER_BYTES) fail(`only ${bytes.length} bytes`);
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) fail('bad magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version < OLDEST_READABLE_VERSION || version > FORMAT_VERSION) {
    throw new BlockVfsError(
      'permanent',
      `"${key}" has atomic format version ${version}; this blockvfs reads versions ${OLDEST_READABLE_VERSION} to ${FORMAT_VERSION} (${version > FORMAT_VERSION ? 'upgrade blockvfs' : 'unknown version'})`,
      { source: SOURCE, store },
    );
  }
  const stored = view.getUint32(bytes.length - TRAILER_BYTES, true);
  if (stored !== crc32(bytes.subarray(0, bytes.length - TRAILER_BYTES))) fail('checksum mismatch');
  if (view.getUint8(10) !== kind) fail(`kind ${view.getUint8(10)}`);
  const headerLength = view.getUint32(12, true);
  if (PREFIX_BYTES + headerLength > bytes.length - TRAILER_BYTES) fail('header runs past the end');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)));
  } catch (error) {
    fail(`unreadable header (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not an object');
  return { version, header: header as Record<string, unknown>, payload: bytes.subarray(PREFIX_BYTES + headerLength, bytes.length - TRAILER_BYTES) };
}
