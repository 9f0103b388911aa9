import assert from 'node:assert/strict';

/**
 * Deterministic pseudo-random bytes (xorshift32): every seed gives different content,
 * so that two versions of an object never share an etag by accident, and a mix of two
 * versions is visible byte by byte.
 */
export function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = (seed * 2654435761 + 0x9e3779b9) >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    bytes[i] = state & 0xff;
    bytes[i + 1] = (state >>> 8) & 0xff;
    bytes[i + 2] = (state >>> 16) & 0xff;
    bytes[i + 3] = state >>> 24;
  }
  for (; i < length; i++) bytes[i] = (state >>> (8 * (i % 4))) & 0xff;
  return bytes;
}

/** UTF-8 bytes of a string: small objects whose content says what they are. */
export function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

/**
 * Byte-exact comparison with a short message: assert.deepEqual on megabytes would
 * print megabytes. Also checks the type, since the contract returns a Uint8Array.
 */
export function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, what: string): void {
  assert.ok(actual !== undefined, `${what}: expected ${expected.length} bytes, got undefined`);
  assert.ok(actual instanceof Uint8Array, `${what}: expected a Uint8Array, got ${Object.prototype.toString.call(actual)}`);
  if (actual.length !== expected.length) assert.fail(`${what}: expected ${expected.length} bytes, got ${actual.length}`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: bytes differ first at offset ${i} (expected ${expected[i]}, got ${actual[i]})`);
  }
}
