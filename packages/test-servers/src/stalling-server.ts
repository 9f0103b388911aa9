import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

// A local HTTP server that stalls requests on purpose, for the cloud stores' request-timeout tests.

/** A request as the server saw it: method, path and query, headers. */
export interface StalledRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** An answer the server starts and never finishes: the status line, headers (with the full Content-Length) and the first `sendBytes` of `body` (default half). */
export interface PartialAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
  sendBytes?: number;
}

/**
 * What to do with one request:
 * - `silent`: read it and never answer (a server that accepted the connection and hangs);
 * - a PartialAnswer: send part of that answer, then stall;
 * - `half`: forward it upstream, then send the upstream's status, headers and half its body, and stall;
 * - `forward`: forward it upstream and pass the whole answer back.
 */
export type StallAction = 'silent' | 'half' | 'forward' | PartialAnswer;

/**
 * An HTTP server on 127.0.0.1 that leaves chosen requests hanging, for testing request
 * timeouts: nothing here ever ends a stalled exchange, so only the client's timeout can.
 * With an `upstream` (a local test server) it forwards what it is told to, so that a
 * store can open a database through it before its requests start to hang.
 */
export class StallingServer {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Decides each request's fate (default: `silent`, every request hangs). */
  rule: (request: StalledRequest) => StallAction = () => 'silent';
  /** Every request left hanging so far (`GET /path?query`): the attempts a client made. */
  readonly stalled: string[] = [];
  readonly #server: Server;
  readonly #upstream: URL | undefined;
  /** The connections of stalled requests that the client has not closed yet. */
  readonly #hanging = new Set<Socket>();

  private constructor(server: Server, upstream: string | undefined) {
    this.#server = server;
    this.#upstream = upstream === undefined ? undefined : new URL(upstream);
    this.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  static async start(options: { upstream?: string } = {}): Promise<StallingServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stalling = new StallingServer(server, options.upstream);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      stalling.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(502);
        res.end(String(error));
      });
    });
    return stalling;
  }

  /** Connections of stalled requests still open: each one is a socket the client did not let go of. */
  get hangingConnections(): number {
    return this.#hanging.size;
  }

  /** Waits (up to `withinMs`) until the client has closed every stalled connection; resolves to how many are still open. */
  async connectionsLeftOpen(withinMs = 2_000): Promise<number> {
    const until = Date.now() + withinMs;
    while (this.#hanging.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.#hanging.size;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: StalledRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    const action = this.rule(request);
    if (action === 'forward') {
      const answer = await this.#forward(request, Buffer.concat(chunks));
      res.writeHead(answer.status, withLength(answer.headers, answer.body.length)).end(answer.body);
      return;
    }
    this.stalled.push(`${request.method} ${request.url}`);
    const socket = req.socket;
    this.#hanging.add(socket);
    socket.once('close', () => this.#hanging.delete(socket));
    if (action === 'silent') return;
    const answer: PartialAnswer = action === 'half' ? await this.#forward(request, Buffer.concat(chunks)) : action;
    const body = Buffer.from(answer.body);
    res.writeHead(answer.status, withLength(answer.headers, body.length));
    res.write(body.subarray(0, answer.sendBytes ?? Math.floor(body.length / 2)));
    // …and nothing more: the client waits for the rest of the body until it gives up.
  }

  #forward(request: StalledRequest, body: Buffer): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
    const upstream = this.#upstream;
    if (!upstream) throw new Error(`StallingServer: no upstream to forward ${request.method} ${request.url} to`);
    return new Promise((resolve, reject) => {
      const forwarded = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers[name] = value;
            resolve({ status: response.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
          });
          response.on('error', reject);
        },
      );
      forwarded.on('error', reject);
      forwarded.end(body);
    });
  }
}

/** The headers of a whole body of `length` bytes, sent with Content-Length (never chunked). */
function withLength(headers: Record<string, string>, length: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (lower !== 'transfer-encoding' && lower !== 'connection' && lower !== 'content-length') out[name] = value;
  }
  out['content-length'] = String(length);
  return out;
}
