import { describe, expect, it } from 'vitest';
import { changeCounterOf, setChangeCounterPast } from '@blockvfs/core/format';

/** A 100-byte SQLite header with this change counter and version-valid-for number. */
function header(counter: number, versionValidFor: number): Uint8Array {
  const bytes = new Uint8Array(100);
  bytes.set(new TextEncoder().encode('SQLite format 3\0'));
  new DataView(bytes.buffer).setUint32(24, counter);
  new DataView(bytes.buffer).setUint32(92, versionValidFor);
  return bytes;
}

const fields = (bytes: Uint8Array) => [new DataView(bytes.buffer).getUint32(24), new DataView(bytes.buffer).getUint32(92)];

describe('the change counter of a replaced database', () => {
  it('moves one past both the replaced counter and its own, the version-valid-for number with it', () => {
    for (const [own, past, expected] of [
      [7, 7, 8],
      [3, 9, 10],
      [12, 5, 13],
      [0xffffffff, 1, 0], // wraps as SQLite's does
    ]) {
      const bytes = header(own as number, own as number);
      setChangeCounterPast(bytes, past as number);
      expect(fields(bytes)).toEqual([expected, expected]);
    }
  });

  it('keeps a counter that did not match its version-valid-for number (an untrusted page count) from matching it', () => {
    const bytes = header(4, 9);
    setChangeCounterPast(bytes, 7); // 8: not 9
    expect(fields(bytes)).toEqual([8, 9]);
    const close = header(4, 8);
    setChangeCounterPast(close, 7); // 8 would match: 9
    expect(fields(close)).toEqual([9, 8]);
  });

  it('leaves what is not a whole SQLite header alone', () => {
    expect(changeCounterOf(header(5, 5).subarray(0, 99))).toBeUndefined();
    const foreign = new Uint8Array(100).fill(1);
    setChangeCounterPast(foreign, 3);
    expect(foreign.every((byte) => byte === 1)).toBe(true);
  });
});
