import type { BlockStore } from '@blockvfs/core';
import { CliError, EXIT, UsageError } from './errors.js';
import type { DatabaseUrl } from './database-url.js';

export interface StoreOptions {
  /** An S3 endpoint (or a GCS API endpoint) instead of the one from the environment. */
  endpoint?: string;
  /** The environment to read credentials and endpoints from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** A store for a database URL, and how to let go of its clients (so that the process can exit). */
export interface OpenedStore {
  store: BlockStore;
  /** The database's name on the store. */
  name: string;
  close(): Promise<void>;
}

/**
 * The BlockStore a URL names. Each cloud's store package and SDK is imported only when a
 * URL of its scheme is used: loading the three SDKs would cost every command, even on a
 * folder, most of a second.
 */
export async function openStore(url: DatabaseUrl, options: StoreOptions = {}): Promise<OpenedStore> {
  const env = options.env ?? process.env;
  switch (url.scheme) {
    case 'file': {
      const { FsStore } = await import('@blockvfs/store-fs');
      return { store: new FsStore({ root: url.root }), name: url.name, close: async () => {} };
    }
    case 's3': {
      const [{ S3Client }, { S3Store }] = await Promise.all([import('@aws-sdk/client-s3'), import('@blockvfs/store-s3')]);
      const endpoint = options.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
      const client = new S3Client({
        region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
        // A custom endpoint (MinIO, Ceph, a local server) usually serves bucket/key paths, not bucket.host names.
        ...(endpoint ? { endpoint, forcePathStyle: env.AWS_S3_FORCE_PATH_STYLE !== 'false' } : {}),
      });
      return { store: new S3Store({ client, bucket: url.bucket, prefix: url.prefix }), name: url.name, close: async () => client.destroy() };
    }
    case 'gs': {
      const [{ Storage }, { GcsStore }] = await Promise.all([import('@google-cloud/storage'), import('@blockvfs/store-gcs')]);
      const endpoint = options.endpoint ?? emulatorEndpoint(env.STORAGE_EMULATOR_HOST);
      const projectId = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
      // With an emulator endpoint the SDK sends no credentials; otherwise Application Default Credentials.
      const storage = new Storage({
        ...(endpoint ? { apiEndpoint: endpoint } : {}),
        ...(projectId ? { projectId } : endpoint ? { projectId: 'blockvfs' } : {}),
      });
      return { store: new GcsStore({ bucket: storage.bucket(url.bucket), prefix: url.prefix }), name: url.name, close: async () => {} };
    }
    case 'az': {
      const connection = env.AZURE_STORAGE_CONNECTION_STRING;
      if (!connection) throw new CliError(`${url.url}: set AZURE_STORAGE_CONNECTION_STRING to reach Azure Blob Storage`, EXIT.usage);
      if (options.endpoint) throw new UsageError('--endpoint is for s3:// and gs:// URLs; Azure takes its endpoint from AZURE_STORAGE_CONNECTION_STRING');
      const [{ BlobServiceClient }, { AzureBlobStore }] = await Promise.all([import('@azure/storage-blob'), import('@blockvfs/store-azure')]);
      const container = BlobServiceClient.fromConnectionString(connection).getContainerClient(url.container);
      return { store: new AzureBlobStore({ container, prefix: url.prefix }), name: url.name, close: async () => {} };
    }
  }
}

/** STORAGE_EMULATOR_HOST may be `host:port` or a URL. */
function emulatorEndpoint(host: string | undefined): string | undefined {
  if (!host) return undefined;
  return /^https?:\/\//.test(host) ? host : `http://${host}`;
}
