// The part of `@google-cloud/storage` that GcsStore uses.
import type { Writable } from 'node:stream';

/**
 * The part of @google-cloud/storage's `Bucket` that GcsStore uses, so that the store
 * accepts a real `Bucket` (`new Storage(...).bucket(name)`) and tests or wrappers can
 * pass anything with the same shape.
 */
export interface GcsBucketLike {
  readonly name: string;
  file(name: string): GcsFileLike;
  /** With `autoPaginate: false`: one page; the third element is the raw JSON answer (items, nextPageToken). */
  getFiles(query: GcsListQuery): Promise<readonly unknown[]>;
}

export interface GcsFileLike {
  /** After a finished upload: the object resource the server answered. */
  readonly metadata: GcsObjectMetadata;
  /** `start`/`end` make a ranged GET (`end` inclusive); without them the SDK checks the whole download against its CRC32C. */
  download(options?: { start?: number; end?: number }): Promise<readonly [Uint8Array, ...unknown[]]>;
  /** With `resumable: false`: one multipart upload request, never retried by the SDK. */
  createWriteStream(options: GcsWriteOptions): Writable;
  getMetadata(): Promise<readonly [GcsObjectMetadata, ...unknown[]]>;
  delete(): Promise<unknown>;
}

export interface GcsObjectMetadata {
  name?: string;
  size?: string | number;
  generation?: string | number;
  md5Hash?: string;
  crc32c?: string;
}

export interface GcsWriteOptions {
  resumable: false;
  validation: false;
  metadata: { contentType: string; crc32c: string };
  preconditionOpts?: { ifGenerationMatch: number | string };
}

export interface GcsListQuery {
  autoPaginate: false;
  prefix: string;
  maxResults: number;
  startOffset?: string;
  pageToken?: string;
  fields?: string;
}
