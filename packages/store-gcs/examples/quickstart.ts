/**
 * GcsStore quickstart: a SQLite database whose file lives as blocks in a GCS bucket.
 *
 * Runs against the repository's GCS test server on 127.0.0.1 (started and stopped
 * here), so it needs no Google account:
 *
 *   pnpm example:gcs      (at the repository root; builds what it needs first)
 *
 * Against real GCS, drop the test server and use `new Storage()` (Application Default
 * Credentials) and a bucket of yours; the rest stays the same.
 */
import { Storage } from '@google-cloud/storage';
import { GcsStore } from '@blockvfs/store-gcs';
import { startGcsTestServer } from '@blockvfs/test-servers';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const server = await startGcsTestServer({ buckets: ['quickstart'] });
try {
  // A custom apiEndpoint makes the SDK send no credentials and look none up.
  const storage = new Storage({ apiEndpoint: server.apiEndpoint, projectId: server.projectId });
  const store = new GcsStore({ bucket: storage.bucket('quickstart'), prefix: 'databases/' });

  const db = await openDatabase({ store, name: 'notes.db' });
  await db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  await db.transaction(async () => {
    for (const body of ['blocks in a bucket', 'one object per 4 KiB page', 'conditional writes by generation']) {
      await db.run('INSERT INTO notes (body) VALUES (?)', [body]);
    }
  });
  console.log(await db.all('SELECT id, body FROM notes ORDER BY id'));
  await db.close();

  // The database is plain objects in the bucket: <name>/<block number>.
  const [files] = await storage.bucket('quickstart').getFiles({ prefix: 'databases/' });
  console.log(`${files.length} objects in gs://quickstart/databases/:`, files.slice(0, 3).map((file) => file.name), '…');

  // Reopened from the bucket alone, the rows are there.
  const again = await openDatabase({ store, name: 'notes.db' });
  console.log(await again.get('SELECT count(*) AS notes FROM notes'));
  await again.close();
} finally {
  await server.stop();
}
