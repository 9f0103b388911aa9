import { BlockVfsError } from '@blockvfs/core';
import { describe, expect, it } from 'vitest';
import { fsError } from '../src/errors.js';

const nodeError = (code: string) => Object.assign(new Error(`${code}: simulated`), { code });

describe('file-system errors to kinds', () => {
  it.each([
    ['EMFILE', 'transient'],
    ['ENFILE', 'transient'],
    ['EBUSY', 'transient'],
    ['EAGAIN', 'transient'],
    ['EINTR', 'transient'],
    ['EACCES', 'permanent'],
    ['EPERM', 'permanent'],
    ['EROFS', 'permanent'],
    ['ENOSPC', 'permanent'],
    ['EDQUOT', 'permanent'],
    ['EIO', 'permanent'],
    ['ENOTDIR', 'permanent'],
    ['ENAMETOOLONG', 'invalid'],
  ])('%s is %s, with the original error as cause and the store in the message', (code, kind) => {
    const cause = nodeError(code);
    const error = fsError('fs:/data', 'put "a/b"', cause);
    expect(error).toBeInstanceOf(BlockVfsError);
    expect(error.kind).toBe(kind);
    expect(error.cause).toBe(cause);
    expect(error.message).toBe(`@blockvfs/store-fs (fs:/data): put "a/b" failed: ${code}: simulated`);
  });

  it('passes a BlockVfsError through unchanged', () => {
    const original = new BlockVfsError('precondition-failed', 'x', { source: '@blockvfs/store-fs', store: 's' });
    expect(fsError('s', 'put', original)).toBe(original);
  });

  it('takes an error without a code as permanent', () => {
    expect(fsError('s', 'list', new Error('odd')).kind).toBe('permanent');
  });
});
