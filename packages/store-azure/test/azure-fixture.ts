import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { inject } from 'vitest';

/** Provided by packages/test-servers/src/vitest-setup-azure.ts (Azurite, or the account in AZURE_STORAGE_CONNECTION_STRING). */
export interface AzureTestConnection {
  connectionString: string;
  emulator: boolean;
  runId: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    azure: AzureTestConnection;
  }
}

export function azureConnection(): AzureTestConnection {
  return inject('azure');
}

/** A client on the test account; `options` e.g. to turn the SDK's own retries off. */
export function serviceClient(options?: StoragePipelineOptions, connectionString = azureConnection().connectionString): BlobServiceClient {
  return BlobServiceClient.fromConnectionString(connectionString, options);
}

/** SDK retries off: the tests want to see each failure, not the SDK's recovery from it. */
export const NO_SDK_RETRIES: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };

let containers = 0;

/** A new, empty container named after this run (3–63 lower-case letters, digits and hyphens). */
export async function createTestContainer(label: string, options?: StoragePipelineOptions): Promise<ContainerClient> {
  const { runId } = azureConnection();
  containers += 1;
  const name = `bvfs-${runId}-${label}-${containers}-${randomBytes(2).toString('hex')}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 63);
  const container = serviceClient(options).getContainerClient(name);
  await container.create();
  return container;
}

/** Deletes a test container and everything in it (fine if already gone). */
export async function deleteTestContainer(container: ContainerClient): Promise<void> {
  await container.deleteIfExists();
}
