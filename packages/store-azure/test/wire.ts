import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { ContainerClient, newPipeline, type StorageSharedKeyCredential, type StoragePipelineOptions } from '@azure/storage-blob';

/**
 * A ContainerClient for the same container whose every HTTP request (retries and
 * batch requests included, each batch once) is recorded as `METHOD comp` before it
 * goes out: tests count what really reaches the service, not what the store asks.
 */
export function countingClient(
  container: ContainerClient,
  credential: StorageSharedKeyCredential,
  options: StoragePipelineOptions = {},
): { client: ContainerClient; requests: string[] } {
  const requests: string[] = [];
  const pipeline = newPipeline(credential, options);
  pipeline.factories.push({
    create: (next) => ({
      sendRequest: (request) => {
        const comp = new URL(request.url).searchParams.get('comp');
        requests.push(`${request.method}${comp ? ` ${comp}` : ''}`);
        return next.sendRequest(request);
      },
    }),
  });
  return { client: new ContainerClient(container.url, pipeline), requests };
}

export type Drop = 'request' | 'response';

/**
 * A TCP proxy on 127.0.0.1 in front of the service that can cut chosen HTTP
 * exchanges, as a flaky network does: `request` closes the connection before the
 * request is forwarded (nothing reaches the service), `response` forwards the request
 * and closes the connection as the answer comes back (the service did the work, the
 * client never hears of it).
 */
export class CuttingProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #plan: Array<{ method: string; drop: Drop }> = [];
  /** Exchanges cut so far. */
  cuts = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(target: { host: string; port: number }): Promise<CuttingProxy> {
    const server = createServer();
    const proxy = new CuttingProxy(server);
    server.on('connection', (client) => proxy.#relay(client, target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    const address = this.#server.address();
    if (!address || typeof address === 'string') throw new Error('not listening');
    return address.port;
  }

  /** Cuts the next request with this method (in order of the calls). */
  cutNext(method: string, drop: Drop): void {
    this.#plan.push({ method, drop });
  }

  get pending(): number {
    return this.#plan.length;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #relay(client: Socket, target: { host: string; port: number }): void {
    const upstream = createConnection(target);
    this.#sockets.add(client).add(upstream);
    let cutOnAnswer = false;
    const cut = () => {
      this.cuts += 1;
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      // A chunk that starts with a method starts a request (the tests send small, non-text bodies).
      const method = /^([A-Z]+) \S+ HTTP\/1\.1\r\n/.exec(chunk.subarray(0, 2048).toString('latin1'))?.[1];
      const step = method === undefined ? -1 : this.#plan.findIndex((p) => p.method === method);
      if (step >= 0) {
        const [planned] = this.#plan.splice(step, 1);
        if (planned?.drop === 'request') return cut();
        cutOnAnswer = true;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cutOnAnswer) return cut();
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
    };
    client.on('close', close).on('error', close);
    upstream.on('close', close).on('error', close);
  }
}
