import CRC32 from 'crc-32';
import CRC32C from 'crc-32/crc32c.js';

/**
 * Checksums, from SheetJS's crc-32 (pure JavaScript, so core runs anywhere; about
 * 1.3 GB/s here). Both return an unsigned 32-bit number.
 */

/** CRC-32 (IEEE 802.3, as zlib's): the atomic layout's object envelopes. */
export function crc32(bytes: Uint8Array): number {
  return CRC32.buf(bytes) >>> 0;
}

/** CRC-32C (Castagnoli, as iSCSI's and S3's): the atomic layout's block checksums. */
export function crc32c(bytes: Uint8Array): number {
  return CRC32C.buf(bytes) >>> 0;
}
