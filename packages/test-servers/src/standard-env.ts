// The environment variables a user's program reads to find its cloud, built from a local
// test server's connection details. The cloud quickstarts (packages/store-*/examples) read
// only these, as they would against the real service, so the same file runs on a user's
// machine and against our servers: run-with-server.ts sets them for `pnpm example:*`, the
// cloud tests set them for the child processes they start.

/** The clouds a local server stands in for. */
export const CLOUDS = ['s3', 'gcs', 'azure'] as const;
export type Cloud = (typeof CLOUDS)[number];

/**
 * For the AWS SDK's own configuration chain (`new S3Client({})` reads them all) and the
 * bucket, which AWS has no variable for: BLOCKVFS_S3_BUCKET, as the S3 tests use it.
 */
export function s3Env(server: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string }, bucket: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: server.endpoint,
    AWS_REGION: server.region,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    BLOCKVFS_S3_BUCKET: bucket,
  };
}

/**
 * `new Storage()` talks to STORAGE_EMULATOR_HOST instead of Google, without credentials,
 * when it is set; GOOGLE_CLOUD_PROJECT is the project id. The bucket: BLOCKVFS_GCS_BUCKET.
 */
export function gcsEnv(server: { apiEndpoint: string; projectId: string }, bucket: string): Record<string, string> {
  return {
    STORAGE_EMULATOR_HOST: server.apiEndpoint,
    GOOGLE_CLOUD_PROJECT: server.projectId,
    BLOCKVFS_GCS_BUCKET: bucket,
  };
}

/** What Azure's own tools read (az CLI, the SDK samples): one connection string. */
export function azureEnv(server: { connectionString: string }): Record<string, string> {
  return { AZURE_STORAGE_CONNECTION_STRING: server.connectionString };
}
