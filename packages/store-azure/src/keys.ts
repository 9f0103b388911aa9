import { BlockVfsError, keyProblem, rangeProblem, type ByteRange } from '@blockvfs/core/store';

export const SOURCE = '@blockvfs/store-azure';

/** Azure's limit on a blob name, in characters. */
export const MAX_BLOB_NAME_LENGTH = 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** `.` and `..` path segments: URL parsing would resolve them and address another blob. */
const DOT_SEGMENT = /(^|\/)\.{1,2}(\/|$)/;

/**
 * Refuses keys that cannot name a blob faithfully: empty, too long with the prefix,
 * with a lone surrogate (not encodable as UTF-8) or with a `.`/`..` segment (the
 * blob URL would be normalised to another name).
 */
export function checkKey(key: string, blobName: string, store: string): void {
  const invalid = (why: string) => new BlockVfsError('invalid', `bad key ${JSON.stringify(key)}: ${why}`, { source: SOURCE, store });
  const problem = keyProblem(key);
  if (problem) throw invalid(problem);
  if (blobName.length > MAX_BLOB_NAME_LENGTH) throw invalid(`with the prefix it is ${blobName.length} characters, Azure allows ${MAX_BLOB_NAME_LENGTH}`);
  if (LONE_SURROGATE.test(key)) throw invalid('it holds a lone UTF-16 surrogate');
  if (DOT_SEGMENT.test(blobName)) throw invalid('a "." or ".." path segment would be resolved away in the blob URL');
}

export function checkRange(range: ByteRange, store: string): void {
  const problem = rangeProblem(range);
  if (problem) throw new BlockVfsError('invalid', problem, { source: SOURCE, store });
}
