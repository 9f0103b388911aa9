// The S3Store a writer child process opens (see @blockvfs/test-workloads, processes.ts).
// The child runs TypeScript sources (test-workloads, child-node.ts): import packages by
// name, this one's own included, and each resolves to its src/index.ts as under vitest.
import { S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '@blockvfs/store-s3';

interface ChildS3Options {
  endpoint: string;
  region: string;
  forcePathStyle: boolean;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  bucket: string;
  prefix: string;
}

export function createStore(options: ChildS3Options): S3Store {
  const { endpoint, region, forcePathStyle, accessKeyId, secretAccessKey, sessionToken, bucket, prefix } = options;
  const client = new S3Client({ endpoint, region, forcePathStyle, credentials: { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } });
  return new S3Store({ client, bucket, prefix });
}
