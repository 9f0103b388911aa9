import { describe, expect, it } from 'vitest';
import { BlockVfsError, isBlockVfsError, isRequestTimeout, isWrongLayoutError, WrongLayoutError } from '@blockvfs/core';
import { RequestTimeoutError } from '@blockvfs/core/store';

/**
 * An app may hold two copies of core (two versions installed, or one bundled twice):
 * each has its own classes, and an error of one must still be recognised by the other.
 * A query string makes Vite load the modules again as separate copies.
 */
async function secondCopy(): Promise<{
  errors: { BlockVfsError: typeof BlockVfsError; isBlockVfsError: typeof isBlockVfsError };
  layout: { WrongLayoutError: typeof WrongLayoutError; isWrongLayoutError: typeof isWrongLayoutError };
  timeout: { RequestTimeoutError: typeof RequestTimeoutError; isRequestTimeout: typeof isRequestTimeout };
}> {
  const load = (path: string) => import(/* @vite-ignore */ new URL(`${path}?second-copy`, import.meta.url).href);
  return { errors: await load('../src/errors.ts'), layout: await load('../src/stored-database.ts'), timeout: await load('../src/request-timeout.ts') };
}

describe('errors are recognised by their brand, across copies of the package', () => {
  it('the second copy is a different class (so instanceof alone would fail)', async () => {
    const { errors } = await secondCopy();
    expect(errors.BlockVfsError).not.toBe(BlockVfsError);
  });

  it('BlockVfsError: isBlockVfsError and instanceof, both ways, with its kind', async () => {
    const { errors } = await secondCopy();
    const theirs = new errors.BlockVfsError('transient', 'dropped', { source: 'test' });
    const ours = new BlockVfsError('permanent', 'denied', { source: 'test' });
    expect(isBlockVfsError(theirs)).toBe(true);
    expect(isBlockVfsError(theirs, 'transient')).toBe(true);
    expect(isBlockVfsError(theirs, 'permanent')).toBe(false);
    expect(theirs instanceof BlockVfsError).toBe(true);
    expect(errors.isBlockVfsError(ours, 'permanent')).toBe(true);
    expect(ours instanceof errors.BlockVfsError).toBe(true);
  });

  it('a look-alike without the brand is not one', () => {
    const impostor = Object.assign(new Error('BlockVfsError: x'), { name: 'BlockVfsError', kind: 'transient' });
    expect(isBlockVfsError(impostor)).toBe(false);
    expect(impostor instanceof BlockVfsError).toBe(false);
    expect(isBlockVfsError(undefined)).toBe(false);
    expect(isBlockVfsError('transient')).toBe(false);
  });

  it('subclasses keep their own identity: a WrongLayoutError is a BlockVfsError, not the other way round', async () => {
    const { layout } = await secondCopy();
    const theirs = new layout.WrongLayoutError('direct', 'written in the direct layout', 'memory');
    expect(isWrongLayoutError(theirs)).toBe(true);
    expect(theirs instanceof WrongLayoutError).toBe(true);
    expect(isBlockVfsError(theirs, 'invalid')).toBe(true);
    const plain = new BlockVfsError('invalid', 'bad key', { source: 'test' });
    expect(isWrongLayoutError(plain)).toBe(false);
    expect(plain instanceof WrongLayoutError).toBe(false);
  });

  it('RequestTimeoutError', async () => {
    const { timeout } = await secondCopy();
    const theirs = new timeout.RequestTimeoutError(5);
    expect(isRequestTimeout(theirs)).toBe(true);
    expect(theirs instanceof RequestTimeoutError).toBe(true);
    expect(isRequestTimeout(new Error('timed out after 5 ms'))).toBe(false);
  });

  it('the brand stays out of JSON and enumeration', () => {
    const error = new BlockVfsError('transient', 'x', { source: 'test', store: 'memory' });
    const brand = Symbol.for('@blockvfs/BlockVfsError');
    expect(Object.getOwnPropertySymbols(error)).toContain(brand);
    expect(Object.prototype.propertyIsEnumerable.call(error, brand)).toBe(false);
  });
});
