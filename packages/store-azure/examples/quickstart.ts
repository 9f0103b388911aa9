/**
 * blockvfs on Azure Blob Storage, end to end, against a local Azurite that this
 * script starts and stops itself (nothing leaves 127.0.0.1):
 *
 *   pnpm example:azure      (at the repository root; builds what it needs first)
 *
 * With a real account, skip startAzurite() and build the BlobServiceClient from your
 * own connection string or credential instead.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { withMetrics } from '@blockvfs/core';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { startAzurite } from '@blockvfs/test-servers';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const azurite = await startAzurite();
console.log(`Azurite is listening at ${azurite.blobEndpoint}`);
try {
  // The store takes a ContainerClient you made: credential, retry policy and endpoint are yours.
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('quickstart');
  await container.createIfNotExists();
  const store = withMetrics(new AzureBlobStore({ container, prefix: 'databases/' }));

  const db = await openDatabase({ store, name: 'notes.db' });
  await db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL, created TEXT NOT NULL)');
  await db.transaction(async () => {
    for (const body of ['SQLite pages live in blobs', 'each block is one blob', 'a new process reads them back']) {
      await db.run("INSERT INTO notes (body, created) VALUES (?, datetime('now'))", [body]);
    }
  });
  console.table(await db.all('SELECT id, body FROM notes ORDER BY id'));
  await db.close();

  // Open it again, as another process would: everything comes back from Azure.
  const again = await openDatabase({ store, name: 'notes.db' });
  console.log(await again.get('SELECT count(*) AS notes FROM notes'), await again.get('PRAGMA integrity_check'));
  await again.close();

  const names: string[] = [];
  for await (const blob of container.listBlobsFlat({ prefix: 'databases/' })) names.push(`${blob.name} (${blob.properties.contentLength} bytes)`);
  console.log(`Blobs in container "quickstart":\n  ${names.join('\n  ')}`);
  console.log('Store requests made:', store.metrics);
} finally {
  await azurite.stop();
  console.log('Azurite stopped.');
}
