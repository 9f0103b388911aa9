import { createHash } from 'node:crypto';
import type { DeleteObjectsCommand } from '@aws-sdk/client-s3';

/**
 * Adds a `Content-MD5` header (base64 MD5 of the body) to a DeleteObjects request.
 *
 * S3 requires an integrity header on DeleteObjects. AWS SDK v3 used to send
 * Content-MD5 and now sends a CRC32 flexible checksum instead, which older or
 * stricter S3-compatible servers do not know and answer with 400 (MissingContentMD5
 * or InvalidRequest). Sending both satisfies every server. It is added to the command,
 * not the client, so the caller's client is left as it was. The build step runs after
 * the body is serialised and before signing, so the header is signed with the rest.
 */
export function withContentMd5(command: DeleteObjectsCommand): DeleteObjectsCommand {
  command.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const body = request.body;
      if (request.headers && (typeof body === 'string' || body instanceof Uint8Array)) {
        request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
      }
      return next(args);
    },
    { step: 'build', name: 'blockvfsContentMd5' },
  );
  return command;
}
