import CRC32 from 'crc-32';
import CRC32C from 'crc-32/crc32c.js';

/**
 * Checksums, from SheetJS's crc-32 (pure JavaScript, so core runs anywhere; about
 * 1.3 GB/s here), except CRC-32 on Node, whose zlib has it natively (about 4× faster:
 * every commit record is checksummed whole, inline blocks and all). Both return an
 * unsigned 32-bit number.
 */

type Crc32 = (bytes: Uint8Array) => number;

/** Node's zlib.crc32 (Node ≥ 20.15 and 22.2), looked up without importing node:zlib, which browsers lack. */
const nativeCrc32 = ((): Crc32 | undefined => {
  const node = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = node?.getBuiltinModule?.('node:zlib') as { crc32?: Crc32 } | undefined;
  return typeof zlib?.crc32 === 'function' ? zlib.crc32 : undefined;
})();

/** CRC-32 (IEEE 802.3, as zlib's): the atomic layout's object envelopes. */
export function crc32(bytes: Uint8Array): number {
  return nativeCrc32 ? nativeCrc32(bytes) : CRC32.buf(bytes) >>> 0;
}

/** CRC-32C (Castagnoli, as iSCSI's and S3's): the atomic layout's block checksums. */
export function crc32c(bytes: Uint8Array): number {
  return CRC32C.buf(bytes) >>> 0;
}
