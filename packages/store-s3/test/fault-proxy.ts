import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the proxy saw it. */
export interface SeenRequest {
  method: string;
  /** Path and query, e.g. `/bucket/pre/fix/key?x-id=PutObject`. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The status the client got (after any fault). */
  status?: number;
}

/**
 * What to do with one request:
 * - `forward`: pass it to the server and its answer back;
 * - `{ status, code }`: answer with that S3 error without forwarding (it never happened);
 * - `{ status, code, after: true }`: forward it, then answer with the error instead of the
 *   server's answer (it happened, the client does not know);
 * - `{ reply }`: answer with this status and XML body without forwarding;
 * - `reset`: drop the connection without answering.
 */
export type FaultAction =
  | 'forward'
  | 'reset'
  | { status: number; code: string; message?: string; after?: boolean }
  | { reply: { status: number; body: string } };

export type FaultRule = (request: SeenRequest) => FaultAction | Promise<FaultAction>;

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: give it to the S3 client as its endpoint. */
  endpoint: string;
  /** Every request so far, in arrival order. */
  readonly seen: SeenRequest[];
  /** Decides what happens to each request from now on (default: forward everything). */
  rule: FaultRule;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 in front of an S3 server that answers chosen requests
 * with errors (503 SlowDown, 403 AccessDenied, 500 after the write happened…). The
 * client signs for the proxy's host and the proxy forwards the Host header as it came,
 * so the server verifies the very signature the client made: real SDK, real server,
 * only the chosen answers are fake.
 */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const seen: SeenRequest[] = [];
  const proxy: FaultProxy = { endpoint: '', seen, rule: () => 'forward', close: async () => {} };

  const forward = (entry: SeenRequest): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const upstreamRequest = httpRequest(
        { host: target.hostname, port: target.port, method: entry.method, path: entry.url, headers: entry.headers },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
          response.on('error', reject);
        },
      );
      upstreamRequest.on('error', reject);
      upstreamRequest.end(entry.body);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const entry: SeenRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(entry);
      try {
        const action = await proxy.rule(entry);
        if (action === 'reset') {
          req.socket.destroy();
          return;
        }
        if (typeof action === 'object' && 'reply' in action) {
          entry.status = action.reply.status;
          res.writeHead(action.reply.status, { 'content-type': 'application/xml' }).end(action.reply.body);
          return;
        }
        if (action === 'forward' || action.after) {
          const answer = await forward(entry);
          if (action === 'forward') {
            entry.status = answer.status;
            res.writeHead(answer.status, answer.headers).end(answer.body);
            return;
          }
        }
        entry.status = action.status;
        res.writeHead(action.status, { 'content-type': 'application/xml' }).end(s3ErrorXml(action.code, action.message ?? action.code));
      } catch (error) {
        entry.status = 599;
        res.writeHead(502).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
}

/** Which S3 operation a request is, from its method and query (the SDK adds `x-id=<Operation>` to most). */
export function operation(request: Pick<SeenRequest, 'method' | 'url'>): string {
  const query = new URL(request.url, 'http://x').searchParams;
  if (request.method === 'POST' && query.has('delete')) return 'DeleteObjects';
  if (request.method === 'GET' && query.get('list-type') === '2') return 'ListObjectsV2';
  const id = query.get('x-id');
  if (id) return id;
  return `${request.method} ${request.url}`;
}

/** The object key of a request (without bucket), decoded. */
export function objectKey(request: Pick<SeenRequest, 'url'>, bucket: string): string {
  const path = decodeURIComponent(new URL(request.url, 'http://x').pathname);
  return path.startsWith(`/${bucket}/`) ? path.slice(bucket.length + 2) : path;
}
