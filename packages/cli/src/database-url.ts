import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from './errors.js';

/**
 * A database named by URL. The store is everything but the last path segment (a bucket
 * and a prefix, a container and a prefix, a folder); the last segment is the database's
 * name on that store, as `openDatabase({ name })` takes it. So `s3://b/tenants/a.db` is
 * database `a.db` in an S3Store on bucket `b` with prefix `tenants/`, and
 * `./data/a.db` is database `a.db` in an FsStore on `./data`: the same objects either
 * way an application would name them.
 */
export type DatabaseUrl =
  | { scheme: 's3'; bucket: string; prefix: string; name: string; url: string }
  | { scheme: 'gs'; bucket: string; prefix: string; name: string; url: string }
  | { scheme: 'az'; container: string; prefix: string; name: string; url: string }
  | { scheme: 'file'; root: string; name: string; url: string };

export type Scheme = DatabaseUrl['scheme'];

const CLOUD_SCHEMES = { 's3:': 's3', 'gs:': 'gs', 'az:': 'az' } as const;

const EXAMPLES = 's3://bucket/prefix/name, gs://bucket/name, az://container/name, file:./dir/name or ./dir/name';

/** Parses a database URL, or throws a UsageError saying what is wrong and what is accepted. */
export function parseDatabaseUrl(text: string): DatabaseUrl {
  const bad = (why: string): never => {
    throw new UsageError(`"${text}" is not a database URL: ${why} (examples: ${EXAMPLES})`);
  };
  if (typeof text !== 'string' || text.trim() === '') bad('it is empty');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
  // A Windows drive letter ("C:\db") is a path, not a scheme.
  if (scheme === undefined || (scheme.length === 1 && /^[a-zA-Z]:[\\/]/.test(text))) return fileUrl(text, text, bad);
  if (scheme === 'file') {
    const rest = text.slice('file:'.length);
    if (rest.startsWith('//')) {
      let path: string;
      try {
        path = fileURLToPath(text);
      } catch (error) {
        return bad((error as Error).message);
      }
      return fileUrl(path, text, bad);
    }
    return fileUrl(rest, text, bad);
  }
  const cloud = CLOUD_SCHEMES[`${scheme}:` as keyof typeof CLOUD_SCHEMES];
  if (!cloud) return bad(`unknown scheme "${scheme}:"`);
  const rest = text.slice(scheme.length + 1);
  if (!rest.startsWith('//')) bad(`${cloud}: URLs start with ${cloud}://`);
  const path = rest.slice(2);
  const slash = path.indexOf('/');
  const bucket = slash < 0 ? path : path.slice(0, slash);
  const key = slash < 0 ? '' : path.slice(slash + 1);
  if (bucket === '') bad(`no ${cloud === 'az' ? 'container' : 'bucket'}`);
  if (/[?#]/.test(path)) bad('query strings and fragments are not allowed');
  const segments = key.split('/');
  const name = segments.pop() ?? '';
  if (name === '') bad(`no database name after the ${cloud === 'az' ? 'container' : 'bucket'} (a URL ends with the database's name, not with /)`);
  if (segments.some((segment) => segment === '')) bad('empty path segment (//)');
  const prefix = segments.length > 0 ? `${segments.join('/')}/` : '';
  return cloud === 'az' ? { scheme: 'az', container: bucket, prefix, name, url: text } : { scheme: cloud, bucket, prefix, name, url: text };
}

function fileUrl(path: string, url: string, bad: (why: string) => never): DatabaseUrl {
  if (path === '') bad('no path');
  const absolute = isAbsolute(path) ? path : resolve(path);
  if (/[\\/]$/.test(path)) bad('a path ends with the database name, not with a separator');
  const segments = absolute.split(/[\\/]/);
  const name = segments.pop() as string;
  if (name === '.' || name === '..') bad(`"${name}" is not a database name`);
  const root = segments.join('/') || '/';
  return { scheme: 'file', root, name, url };
}

/** The URL as one line for messages: the store and the name. */
export function describeUrl(url: DatabaseUrl): string {
  switch (url.scheme) {
    case 'file':
      return `${url.root}/${url.name}`;
    case 'az':
      return `az://${url.container}/${url.prefix}${url.name}`;
    default:
      return `${url.scheme}://${url.bucket}/${url.prefix}${url.name}`;
  }
}
