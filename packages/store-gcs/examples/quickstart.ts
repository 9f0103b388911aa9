/**
 * GcsStore quickstart: a SQLite database whose file lives as blocks in a GCS bucket.
 *
 * It reads the environment: BLOCKVFS_GCS_BUCKET, an existing bucket to write under
 * `databases/` in, and what `new Storage()` reads itself: Application Default Credentials
 * and GOOGLE_CLOUD_PROJECT, or STORAGE_EMULATOR_HOST for an emulator (then no credentials).
 *
 *   node examples/quickstart.ts     (with that environment, after `pnpm build`)
 *   pnpm example:gcs                (at the repository root: builds, starts the local GCS test server for it)
 */
import { Storage } from '@google-cloud/storage';
import { GcsStore } from '@blockvfs/store-gcs';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const bucketName = process.env.BLOCKVFS_GCS_BUCKET;
if (!bucketName) throw new Error('Set BLOCKVFS_GCS_BUCKET to an existing bucket');

const storage = new Storage(); // Application Default Credentials, as usual (or STORAGE_EMULATOR_HOST)
const store = new GcsStore({ bucket: storage.bucket(bucketName), prefix: 'databases/' });
const db = await openDatabase({ store, name: 'notes.db' });
await db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
await db.transaction(async () => {
  for (const body of ['blocks in a bucket', 'one object per 4 KiB page', 'conditional writes by generation']) {
    await db.run('INSERT INTO notes (body) VALUES (?)', [body]);
  }
});
console.log(await db.all('SELECT id, body FROM notes ORDER BY id'));
await db.close();

// The database is plain objects in the bucket, under <name>/.
const [files] = await storage.bucket(bucketName).getFiles({ prefix: 'databases/' });
console.log(
  `${files.length} objects in gs://${bucketName}/databases/:`,
  files.slice(0, 3).map((file) => file.name),
  '…',
);

// Reopened from the bucket alone, the rows are there.
const again = await openDatabase({ store, name: 'notes.db' });
console.log(await again.get('SELECT count(*) AS notes FROM notes'));
await again.close();
