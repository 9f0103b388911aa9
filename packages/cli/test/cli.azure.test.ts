import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, inject } from 'vitest';
import type {} from '../../test-servers/src/vitest-setup-azure.js';
import { defineCloudSmokeTest } from './cloud-smoke.js';

// az:// URLs on the 'azure' project's server (Azurite on 127.0.0.1, or the account in
// AZURE_STORAGE_CONNECTION_STRING), in a container of this run's own.
const azure = inject('azure');
const containerName = `cli-${azure.runId}`.toLowerCase();

describe('blockvfs on Azure Blob Storage', () => {
  let container: ContainerClient;
  beforeAll(async () => {
    container = BlobServiceClient.fromConnectionString(azure.connectionString).getContainerClient(containerName);
    await container.createIfNotExists();
  });
  afterAll(async () => {
    await container?.deleteIfExists();
  });
  defineCloudSmokeTest('azure', (name) => `az://${containerName}/dbs/${name}`, { AZURE_STORAGE_CONNECTION_STRING: azure.connectionString });
});
