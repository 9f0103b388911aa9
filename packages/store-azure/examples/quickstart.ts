/**
 * blockvfs on Azure Blob Storage, end to end: creates a container (if missing), opens a
 * database in it, writes, reads it back as another process would, and lists the blobs.
 *
 * It reads AZURE_STORAGE_CONNECTION_STRING, and BLOCKVFS_AZURE_CONTAINER (default
 * `quickstart`). With a credential instead of a connection string, build the
 * BlobServiceClient from it; the rest stays the same.
 *
 *   node examples/quickstart.ts     (with that environment, after `pnpm build`)
 *   pnpm example:azure              (at the repository root: builds, starts a local Azurite for it)
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureBlobStore } from '@blockvfs/store-azure';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const connectionString = process.env.AZURE_STORAGE_CONNECTION_STRING;
if (!connectionString) throw new Error('Set AZURE_STORAGE_CONNECTION_STRING to reach your storage account');
const containerName = process.env.BLOCKVFS_AZURE_CONTAINER ?? 'quickstart';

// The store takes a ContainerClient you made: credential, retry policy and endpoint are yours.
const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(containerName);
await container.createIfNotExists();
const store = new AzureBlobStore({ container, prefix: 'databases/' });
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
console.log(`Blobs in container "${containerName}":\n  ${names.join('\n  ')}`);
