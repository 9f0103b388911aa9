import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Buckets, type StoredObject } from './buckets.js';
import { GcsHttpError, invalid, noSuchObject, notImplemented } from './gcs-errors.js';
import { parseRange } from './ranges.js';
import { bucketResource, objectEtag, objectResource } from './resources.js';
import { ResumableUploads, conditionsOf, mediaUpload, multipartUpload } from './uploads.js';

const HOST = '127.0.0.1';
/** A page of a listing holds at most this many names (and prefixes), as in GCS. */
const MAX_PAGE = 1000;

/** A request as the fault rules and the request log see it. */
export interface GcsRequestInfo {
  method: string;
  /** The path as sent (object names still percent-encoded), without the query. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
}

/**
 * A fault: requests matching `match` (every request when omitted) get `status` with a
 * GCS-shaped error body, or have their connection dropped (`status: 'drop'`), `times`
 * times (default 1). `after: true` carries the request out first and only then fails
 * the response: the client cannot tell whether its write happened.
 */
export interface GcsFault {
  status: number | 'drop';
  reason?: string;
  message?: string;
  times?: number;
  after?: boolean;
  match?: (request: GcsRequestInfo) => boolean;
}

export interface StartGcsTestServerOptions {
  /** Buckets to create at start. */
  buckets?: readonly string[];
  /** The project id handed back for `new Storage({ projectId })` (default `test`). */
  projectId?: string;
}

export interface GcsTestServer {
  /** For `new Storage({ apiEndpoint, projectId })`: `http://127.0.0.1:<port>`. */
  apiEndpoint: string;
  projectId: string;
  port: number;
  /** Makes the next matching requests fail (see GcsFault). */
  injectFault(fault: GcsFault): void;
  /** Drops the faults not used up yet. */
  clearFaults(): void;
  /** Every request served so far, oldest first. */
  readonly requests: readonly GcsRequestInfo[];
  /** Stops listening and closes open connections. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts an in-memory server of the GCS JSON API on 127.0.0.1 and a port the OS
 * picks: the calls @google-cloud/storage makes for buckets (create, get, delete, list)
 * and objects (media, multipart and resumable uploads; metadata get and patch; media
 * download with ranges; delete; paged listing with prefix, delimiter, startOffset and
 * endOffset), with generations and the ifGeneration/ifMetageneration preconditions
 * answered 412 when they fail. No authentication: point the SDK at it with a custom
 * `apiEndpoint`, which makes it skip credentials (see the package README).
 */
export async function startGcsTestServer(options: StartGcsTestServerOptions = {}): Promise<GcsTestServer> {
  const buckets = new Buckets();
  for (const name of options.buckets ?? []) buckets.createBucket(name);
  const uploads = new ResumableUploads();
  const faults: (GcsFault & { times: number })[] = [];
  const requests: GcsRequestInfo[] = [];
  const sockets = new Set<Socket>();
  let baseUrl = '';

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    const headers = toHeaders(req);
    const info: GcsRequestInfo = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers };
    requests.push(info);
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch {
      return; // the client went away
    }
    const fault = takeFault(info);
    if (fault && !fault.after) return sendFault(res, fault);
    let answer: Answer;
    try {
      answer = route(info, body, headers);
    } catch (error) {
      answer = error instanceof GcsHttpError ? errorAnswer(error) : errorAnswer(new GcsHttpError(500, 'backendError', `Test server bug: ${String(error)}`));
    }
    if (fault) return sendFault(res, fault);
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }

  function takeFault(request: GcsRequestInfo): GcsFault | undefined {
    const index = faults.findIndex((fault) => !fault.match || fault.match(request));
    const fault = faults[index];
    if (!fault) return undefined;
    fault.times -= 1;
    if (fault.times <= 0) faults.splice(index, 1);
    return fault;
  }

  function route(request: GcsRequestInfo, body: Buffer, headers: Headers): Answer {
    const { method, query } = request;
    // Object names are one percent-encoded path segment each ('/' travels as %2F).
    const segments = request.path.split('/').slice(1).map(decodeSegment);
    if (segments[0] === 'upload' && segments[1] === 'storage' && segments[2] === 'v1' && segments[3] === 'b' && segments[5] === 'o' && segments.length === 6) {
      return upload(method, segments[4] as string, query, body, headers);
    }
    let rest = segments;
    let download = false;
    if (rest[0] === 'download' && rest[1] === 'storage' && rest[2] === 'v1') {
      rest = rest.slice(3);
      download = true;
    } else if (rest[0] === 'storage' && rest[1] === 'v1') {
      rest = rest.slice(2); // STORAGE_EMULATOR_HOST makes the SDK leave out /storage/v1
    }
    if (rest[0] !== 'b') throw notImplemented(`${method} ${request.path}`);
    const [, bucket, o, name, ...more] = rest;
    if (more.length > 0 || (o !== undefined && o !== 'o')) throw notImplemented(`${method} ${request.path}`);
    if (bucket === undefined) {
      if (method === 'POST') return json(200, bucketResource(buckets.createBucket(String(parseJson(body).name ?? '')), baseUrl));
      if (method === 'GET') return json(200, { kind: 'storage#buckets', items: buckets.all().map((b) => bucketResource(b, baseUrl)) });
    } else if (o === undefined) {
      if (method === 'GET') return json(200, bucketResource(buckets.bucket(bucket), baseUrl));
      if (method === 'DELETE') {
        buckets.deleteBucket(bucket);
        return { status: 204, headers: {}, body: '' };
      }
    } else if (name === undefined) {
      if (method === 'GET') return list(bucket, query);
    } else {
      const conditions = conditionsOf(query);
      if (method === 'GET') {
        const object = buckets.getObject(bucket, name, conditions);
        const generation = query.get('generation');
        if (generation !== null && generation !== object.generation.toString()) throw noSuchObject(bucket, name);
        if (download || query.get('alt') === 'media') return media(object, headers.get('range') ?? undefined);
        return json(200, objectResource(object, baseUrl));
      }
      if (method === 'PATCH') return json(200, objectResource(buckets.patchObject(bucket, name, parseJson(body), conditions), baseUrl));
      if (method === 'DELETE') {
        buckets.deleteObject(bucket, name, conditions);
        return { status: 204, headers: {}, body: '' };
      }
    }
    throw notImplemented(`${method} ${request.path}`);
  }

  function upload(method: string, bucket: string, query: URLSearchParams, body: Buffer, headers: Headers): Answer {
    const uploadType = query.get('uploadType');
    const uploadId = query.get('upload_id');
    if (uploadId !== null && (method === 'PUT' || method === 'POST')) {
      const result = uploads.chunk(buckets, uploadId, body, headers);
      if (result.done) return json(200, objectResource(result.object, baseUrl));
      // 308 "resume incomplete": the Range header says what the server has (none: nothing yet).
      return { status: 308, headers: result.received > 0 ? { range: `bytes=0-${result.received - 1}` } : {}, body: '' };
    }
    if (method !== 'POST') throw notImplemented(`${method} upload`);
    buckets.bucket(bucket); // a missing bucket is 404 whatever the upload type
    if (uploadType === 'media') return json(200, objectResource(mediaUpload(buckets, bucket, query, body, headers), baseUrl));
    if (uploadType === 'multipart') return json(200, objectResource(multipartUpload(buckets, bucket, query, body, headers.get('content-type') ?? ''), baseUrl));
    if (uploadType === 'resumable') {
      const id = uploads.start(buckets, bucket, query, body, headers);
      const location = new URL(`${baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`);
      location.searchParams.set('uploadType', 'resumable');
      location.searchParams.set('upload_id', id);
      return { status: 200, headers: { location: location.toString(), 'content-length': '0' }, body: '' };
    }
    throw invalid(`Unknown uploadType: ${uploadType}`);
  }

  function list(bucket: string, query: URLSearchParams): Answer {
    const maxResults = query.get('maxResults');
    const max = maxResults === null ? MAX_PAGE : Number(maxResults);
    if (!Number.isSafeInteger(max) || max < 1) throw invalid(`Invalid value for maxResults: ${maxResults}`);
    const pageToken = query.get('pageToken');
    let after: string | undefined;
    if (pageToken) {
      after = Buffer.from(pageToken, 'base64url').toString('utf8');
      if (!after || Buffer.from(after, 'utf8').toString('base64url') !== pageToken) throw invalid(`Invalid pageToken: ${pageToken}`);
    }
    const page = buckets.list(bucket, {
      prefix: query.get('prefix') ?? '',
      delimiter: query.get('delimiter') || undefined,
      startOffset: query.get('startOffset') ?? undefined,
      endOffset: query.get('endOffset') ?? undefined,
      after,
      maxResults: Math.min(max, MAX_PAGE),
    });
    // Like GCS, empty `items` and `prefixes` are left out of the answer.
    return json(200, {
      kind: 'storage#objects',
      ...(page.items.length > 0 ? { items: page.items.map((object) => objectResource(object, baseUrl)) } : {}),
      ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
      ...(page.nextAfter !== undefined ? { nextPageToken: Buffer.from(page.nextAfter, 'utf8').toString('base64url') } : {}),
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://${HOST}:${port}`;
  // A server nobody stopped must not keep the process alive.
  server.unref();

  let stopped: Promise<void> | undefined;
  return {
    apiEndpoint: baseUrl,
    projectId: options.projectId ?? 'test',
    port,
    requests,
    injectFault(fault: GcsFault) {
      faults.push({ ...fault, times: fault.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopped;
    },
  };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

function json(status: number, value: unknown): Answer {
  return { status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: JSON.stringify(value) };
}

function errorAnswer(error: GcsHttpError): Answer {
  return { status: error.status, headers: { 'content-type': 'application/json; charset=UTF-8' }, body: error.body() };
}

function sendFault(res: ServerResponse, fault: GcsFault): void {
  if (fault.status === 'drop') {
    res.socket?.destroy();
    return;
  }
  const answer = errorAnswer(new GcsHttpError(fault.status, fault.reason ?? 'injectedFault', fault.message ?? `Injected fault (HTTP ${fault.status})`));
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/**
 * `alt=media`: the bytes, with the headers the SDK reads (it checks a full download
 * against `x-goog-hash` when `x-goog-stored-content-encoding` is identity). A Range
 * gives 206 with Content-Range, or 416 when it starts at or past the end.
 */
function media(object: StoredObject, rangeHeader: string | undefined): Answer {
  const size = object.data.length;
  const headers: Record<string, string> = {
    'content-type': object.contentType,
    'accept-ranges': 'bytes',
    etag: objectEtag(object),
    'x-goog-generation': object.generation.toString(),
    'x-goog-metageneration': String(object.metageneration),
    'x-goog-stored-content-encoding': 'identity',
    'x-goog-stored-content-length': String(size),
    'x-goog-hash': `crc32c=${object.crc32c},md5=${object.md5Hash}`,
    'x-goog-storage-class': 'STANDARD',
  };
  const range = parseRange(rangeHeader, size);
  if (range === 'unsatisfiable') {
    const error = new GcsHttpError(416, 'requestedRangeNotSatisfiable', 'Request range not satisfiable');
    return { status: 416, headers: { 'content-type': 'application/json; charset=UTF-8', 'content-range': `bytes */${size}` }, body: error.body() };
  }
  if (!range) return { status: 200, headers, body: object.data };
  headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
  return { status: 206, headers, body: object.data.subarray(range.start, range.end + 1) };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid(`Bad percent-encoding in the path: ${segment}`);
  }
}

function parseJson(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid('The request body is not a JSON object');
}

function toHeaders(req: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else if (Array.isArray(value)) for (const item of value) headers.append(name, item);
  }
  return headers;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
