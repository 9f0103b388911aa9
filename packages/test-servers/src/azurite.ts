import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Azurite's well-known development account (published in Azurite's README and
 * Microsoft's docs; it only ever opens the local emulator).
 */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface StartAzuriteOptions {
  /** How long to wait for Azurite to answer (default 60 s: it starts in 2–5 s, longer on a busy machine). */
  startTimeoutMs?: number;
  /** Let Azurite print its access log and output (default false). */
  verbose?: boolean;
}

export interface AzuriteServer {
  /** A connection string for `BlobServiceClient.fromConnectionString` / `ContainerClient`. */
  connectionString: string;
  accountName: string;
  accountKey: string;
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  blobEndpoint: string;
  port: number;
  /** Stops Azurite (its whole process group) and removes its workspace folder. Safe to call twice. */
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/**
 * Starts Azurite's blob service as a child process on 127.0.0.1 and a free port, with
 * in-memory persistence (nothing survives it, nothing is left on disk) and telemetry
 * off, and resolves once it answers HTTP. The process is killed when `stop()` is
 * called and, failing that, when this process exits.
 */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteServer> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const main = azuriteBlobMain();
  // A workspace of its own (its cwd): --inMemoryPersistence refuses --location, and Azurite
  // may still write small files to its working folder.
  const workspace = mkdtempSync(join(tmpdir(), 'blockvfs-azurite-'));
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  // The free port is found by binding port 0 and closing it; another process can take it
  // before Azurite binds it, in which case Azurite exits and we try another port.
  for (let attempt = 1; attempt <= 3 && Date.now() < deadline; attempt++) {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        main,
        '--blobHost',
        HOST,
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--disableTelemetry',
        // @azure/storage-blob 12.34.0 sends x-ms-version 2026-10-06, newer than the
        // 2026-06-06 that Azurite 3.37.0 knows; without this every request gets a 400.
        '--skipApiVersionCheck',
        ...(options.verbose ? [] : ['--silent']),
      ],
      // Its own process group, so that stop() can kill Azurite and anything it started.
      // cwd: the workspace, so that anything Azurite writes to its working folder lands there.
      { cwd: workspace, detached: true, stdio: options.verbose ? 'inherit' : ['ignore', 'ignore', 'pipe'] },
    );
    const stopper = processStopper(child);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    try {
      await waitUntilAnswering(port, child, deadline);
      const blobEndpoint = `http://${HOST}:${port}/${AZURITE_ACCOUNT_NAME}`;
      return {
        connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};AccountKey=${AZURITE_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
        accountName: AZURITE_ACCOUNT_NAME,
        accountKey: AZURITE_ACCOUNT_KEY,
        blobEndpoint,
        port,
        async stop() {
          await stopper.stop();
          rmSync(workspace, { recursive: true, force: true });
        },
      };
    } catch (error) {
      await stopper.stop();
      lastError = new Error(`Azurite did not start on ${HOST}:${port}: ${(error as Error).message}${stderr ? `\n${stderr}` : ''}`, { cause: error });
    }
  }
  rmSync(workspace, { recursive: true, force: true });
  throw lastError ?? new Error(`Azurite did not start within ${timeoutMs} ms`);
}

/** The `azurite-blob` bin's script, run with this Node (no shell wrapper between us and the process we kill). */
function azuriteBlobMain(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

/** A port that was free on 127.0.0.1 a moment ago, chosen by the OS. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls until Azurite answers any HTTP response (an unauthenticated request gets an error status, which is fine). */
async function waitUntilAnswering(port: number, child: ChildProcess, deadline: number): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `it exited (${signal ?? `code ${code}`})`;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(exited);
    try {
      await fetch(`http://${HOST}:${port}/${AZURITE_ACCOUNT_NAME}?comp=list`, { signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(exited ?? 'timed out waiting for it to answer');
}

/** Kills the child's process group: politely, then for sure; and on this process's exit if nobody did. */
function processStopper(child: ChildProcess): { stop(): Promise<void> } {
  const pid = child.pid;
  const killGroup = (signal: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  };
  const onExit = (): void => killGroup('SIGKILL');
  process.once('exit', onExit);
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        process.off('exit', onExit);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        killGroup('SIGTERM');
        const timer = setTimeout(() => killGroup('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}
