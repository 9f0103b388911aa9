/**
 * SQLite on S3, start to finish: starts a local Ceph RADOS Gateway (S3 on 127.0.0.1),
 * opens a database on a bucket, writes, queries, and stops the gateway.
 *
 *   pnpm example:s3      (at the repository root; builds what it needs first)
 *
 * Against your own S3 instead, drop startCephRgw and give S3Client your endpoint,
 * region and credentials as usual.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '@blockvfs/store-s3';
import { startCephRgw } from '@blockvfs/test-servers';
import { openDatabase } from '@blockvfs/vfs-wasqlite';

console.log('starting Ceph RGW on 127.0.0.1 (about 15 s)…');
const rgw = await startCephRgw({ buckets: ['quickstart'] });
try {
  const client = new S3Client({
    endpoint: rgw.endpoint,
    region: rgw.region,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    forcePathStyle: true, // RGW and MinIO on localhost serve path-style URLs
  });
  const store = new S3Store({ client, bucket: 'quickstart', prefix: 'demo/' });

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
  console.log(`on S3 under s3://quickstart/demo/: ${objects.join(', ')}`);
  client.destroy();
} finally {
  await rgw.stop();
  console.log('gateway stopped');
}
