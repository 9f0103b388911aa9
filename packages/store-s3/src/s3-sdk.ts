// The part of `@aws-sdk/client-s3` that S3Store uses, and the one form its etags are handed out in.
import type {
  DeleteObjectsCommand,
  DeleteObjectsCommandOutput,
  GetObjectCommand,
  GetObjectCommandOutput,
  ListObjectsV2Command,
  ListObjectsV2CommandOutput,
  PutObjectCommand,
  PutObjectCommandOutput,
} from '@aws-sdk/client-s3';

/**
 * What S3Store passes as `send`'s second argument: the attempt's AbortSignal, which
 * aborts when the store's request timeout passes (the SDK then closes the connection).
 */
export interface S3SendOptions {
  abortSignal?: AbortSignal;
}

/**
 * The part of `S3Client` (from `@aws-sdk/client-s3` v3) that S3Store uses: `send` of
 * four commands. An `S3Client` fits as it is; so does anything else that sends these
 * commands (a client with extra middleware, a test double). One that ignores the
 * abort signal is still timed out, but its connection is left to it.
 */
export interface S3ClientLike {
  send(command: GetObjectCommand, options?: S3SendOptions): Promise<GetObjectCommandOutput>;
  send(command: PutObjectCommand, options?: S3SendOptions): Promise<PutObjectCommandOutput>;
  send(command: DeleteObjectsCommand, options?: S3SendOptions): Promise<DeleteObjectsCommandOutput>;
  send(command: ListObjectsV2Command, options?: S3SendOptions): Promise<ListObjectsV2CommandOutput>;
}

/**
 * ETags in one form: without the surrounding double quotes (and without a weak `W/`
 * marker). S3 answers them quoted (`"9b2c…"`), as HTTP says, but servers differ in
 * what they compare an `If-Match` with: Ceph RGW compares it with the bare value, so
 * the quoted form always fails there, while AWS S3 and MinIO accept the bare form too.
 * So the store hands out bare etags and sends bare etags.
 */
export function bareEtag(etag: string): string {
  let value = etag.trim();
  if (value.startsWith('W/')) value = value.slice(2);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  return value;
}
