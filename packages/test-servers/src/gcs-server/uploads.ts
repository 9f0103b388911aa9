import { createHash, randomUUID } from 'node:crypto';
import type { Buckets, Preconditions, StoredObject } from './buckets.js';
import { crc32cBase64 } from './crc32c.js';
import { GcsHttpError, invalid } from './gcs-errors.js';
import { parseMultipart } from './multipart.js';

const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** What an upload request says about the object besides its bytes. */
export interface UploadMetadata {
  name?: unknown;
  contentType?: unknown;
  metadata?: unknown;
  crc32c?: unknown;
  md5Hash?: unknown;
}

/** `uploadType=media`: the body is the object; name and conditions are in the query. */
export function mediaUpload(buckets: Buckets, bucket: string, query: URLSearchParams, body: Buffer, headers: Headers): StoredObject {
  const name = query.get('name');
  if (!name) throw invalid('Upload requires the "name" parameter');
  checkHashes(body, hashesFromHeader(headers.get('x-goog-hash')));
  return buckets.putObject(bucket, name, body, { contentType: headers.get('content-type') ?? DEFAULT_CONTENT_TYPE, conditions: conditionsOf(query) });
}

/**
 * `uploadType=multipart`: a `multipart/related` body of the JSON metadata and the bytes.
 * A crc32c or md5Hash in the metadata is checked against the bytes (400 on a mismatch),
 * as GCS does, so a client can have a corrupted upload refused before it is stored.
 */
export function multipartUpload(buckets: Buckets, bucket: string, query: URLSearchParams, body: Buffer, contentType: string): StoredObject {
  const parts = parseMultipart(body, contentType);
  const [metaPart, dataPart] = parts;
  if (parts.length !== 2 || !metaPart || !dataPart) throw invalid(`A multipart upload has two parts (metadata, media), this one has ${parts.length}`);
  let metadata: UploadMetadata;
  try {
    metadata = JSON.parse(metaPart.body.toString('utf8') || '{}') as UploadMetadata;
  } catch {
    throw invalid('The metadata part of the multipart upload is not JSON');
  }
  const name = query.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
  if (!name) throw invalid('Upload requires the "name" parameter or metadata.name');
  checkHashes(dataPart.body, { crc32c: metadata.crc32c, md5: metadata.md5Hash });
  return buckets.putObject(bucket, name, dataPart.body, {
    contentType: typeof metadata.contentType === 'string' ? metadata.contentType : (dataPart.headers['content-type'] ?? DEFAULT_CONTENT_TYPE),
    metadata: customMetadata(metadata.metadata),
    conditions: conditionsOf(query),
  });
}

interface Session {
  bucket: string;
  name: string;
  contentType: string;
  metadata: Record<string, string> | undefined;
  conditions: Preconditions;
  chunks: Buffer[];
  received: number;
}

export type ChunkResult = { done: true; object: StoredObject } | { done: false; received: number };

/**
 * Resumable uploads, as far as @google-cloud/storage uses them (its default for
 * `file.save` and `createWriteStream`): a POST opens a session and answers its URI in
 * `Location`; PUTs to it carry the bytes with `Content-Range: bytes a-b/total` (or
 * `a-*` / total `*` when the SDK streams everything in one request); 308 with a `Range`
 * header asks for more; the last one stores the object, checking the conditions then.
 */
export class ResumableUploads {
  readonly #sessions = new Map<string, Session>();

  start(buckets: Buckets, bucket: string, query: URLSearchParams, body: Buffer, headers: Headers): string {
    buckets.bucket(bucket); // 404 now for a missing bucket
    let metadata: UploadMetadata = {};
    if (body.length > 0) {
      try {
        metadata = JSON.parse(body.toString('utf8')) as UploadMetadata;
      } catch {
        throw invalid('The metadata of a resumable upload is not JSON');
      }
    }
    const name = query.get('name') ?? (typeof metadata.name === 'string' ? metadata.name : undefined);
    if (!name) throw invalid('Upload requires the "name" parameter or metadata.name');
    const contentType = typeof metadata.contentType === 'string' ? metadata.contentType : (headers.get('x-upload-content-type') ?? DEFAULT_CONTENT_TYPE);
    const id = randomUUID();
    this.#sessions.set(id, {
      bucket,
      name,
      contentType,
      metadata: customMetadata(metadata.metadata),
      conditions: conditionsOf(query),
      chunks: [],
      received: 0,
    });
    return id;
  }

  chunk(buckets: Buckets, id: string, body: Buffer, headers: Headers): ChunkResult {
    const session = this.#sessions.get(id);
    if (!session) throw new GcsHttpError(404, 'notFound', `No such upload session: ${id}`);
    const range = headers.get('content-range');
    let total: number | undefined;
    let last = false;
    if (!range) {
      last = true; // no Content-Range: the body is all there is
    } else {
      const match = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(range.trim());
      if (!match) throw invalid(`Bad Content-Range: ${range}`);
      total = match[3] === '*' ? undefined : Number(match[3]);
      if (match[1] !== undefined) {
        const start = Number(match[1]);
        if (start > session.received) throw invalid(`Content-Range starts at ${start}, but only ${session.received} bytes were received`);
        // Bytes the server already has (a client resending after a lost response) are skipped.
        const fresh = body.subarray(session.received - start);
        session.chunks.push(fresh);
        session.received += fresh.length;
        if (match[2] === '*') last = true;
      }
    }
    if (total !== undefined && session.received > total) throw invalid(`Received ${session.received} bytes, more than the declared ${total}`);
    if (!last && (total === undefined || session.received < total)) return { done: false, received: session.received };
    const data = Buffer.concat(session.chunks);
    this.#sessions.delete(id);
    checkHashes(data, hashesFromHeader(headers.get('x-goog-hash')));
    const object = buckets.putObject(session.bucket, session.name, data, {
      contentType: session.contentType,
      metadata: session.metadata,
      conditions: session.conditions,
    });
    return { done: true, object };
  }
}

export function conditionsOf(query: URLSearchParams): Preconditions {
  return {
    ifGenerationMatch: query.get('ifGenerationMatch'),
    ifGenerationNotMatch: query.get('ifGenerationNotMatch'),
    ifMetagenerationMatch: query.get('ifMetagenerationMatch'),
    ifMetagenerationNotMatch: query.get('ifMetagenerationNotMatch'),
  };
}

function customMetadata(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, v]) => [key, String(v)]));
}

/** `x-goog-hash: crc32c=…,md5=…` */
function hashesFromHeader(header: string | null): { crc32c?: string; md5?: string } {
  const hashes: { crc32c?: string; md5?: string } = {};
  for (const pair of (header ?? '').split(',')) {
    const eq = pair.indexOf('=');
    const kind = pair.slice(0, eq).trim();
    if (kind === 'crc32c' || kind === 'md5') hashes[kind] = pair.slice(eq + 1).trim();
  }
  return hashes;
}

function checkHashes(data: Buffer, expected: { crc32c?: unknown; md5?: unknown }): void {
  if (typeof expected.crc32c === 'string') {
    const actual = crc32cBase64(data);
    if (actual !== expected.crc32c) throw invalid(`Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${actual}".`);
  }
  if (typeof expected.md5 === 'string') {
    const actual = createHash('md5').update(data).digest('base64');
    if (actual !== expected.md5) throw invalid(`Provided MD5 hash "${expected.md5}" doesn't match calculated MD5 hash "${actual}".`);
  }
}
