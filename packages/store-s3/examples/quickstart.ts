/**
 * SQLite on S3, start to finish: opens a database on a bucket, writes, queries, and
 * lists the objects it is stored as.
 *
 * It reads the environment, as any AWS SDK program does: AWS_REGION, AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY (or a profile), AWS_ENDPOINT_URL for an S3-compatible server (MinIO,
 * Ceph RGW, …), and BLOCKVFS_S3_BUCKET, an existing bucket to write under `databases/` in.
 * (The SDK addresses an endpoint given by IP address path-style; for a server on a host name
 * that needs path-style URLs, such as MinIO on localhost, add `forcePathStyle: true`.)
 *
 *   node examples/quickstart.ts     (with that environment, after `pnpm build`)
 *   pnpm example:s3                 (at the repository root: builds, starts a local Ceph RGW for it)
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '@blockvfs/store-s3';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

const bucket = process.env.BLOCKVFS_S3_BUCKET;
if (!bucket) throw new Error('Set BLOCKVFS_S3_BUCKET to an existing bucket, and the AWS_* variables to reach it');

const client = new S3Client(); // region, credentials and endpoint from the environment, as usual
const store = new S3Store({ client, bucket, prefix: 'databases/' });
const db = await openDatabase({ store, name: 'app.db' });
await db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
await db.transaction(async () => {
  for (const body of ['blocks are objects', 'pages are blocks', 'SQLite does the rest']) {
    await db.run('INSERT INTO notes (body) VALUES (?)', [body]);
  }
});
console.table(await db.all('SELECT id, body FROM notes ORDER BY id'));
await db.close();

const objects: string[] = [];
for await (const entry of store.list('app.db/')) objects.push(`${entry.key} (${entry.size} bytes)`);
console.log(`on S3 under s3://${bucket}/databases/: ${objects.join(', ')}`);
client.destroy();
