import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where an S3 server listens and how to sign requests to it. */
export interface S3Endpoint {
  /** `http://127.0.0.1:<port>`; use path-style addressing (`forcePathStyle: true`). */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export interface CephRgw extends S3Endpoint {
  /** The buckets created at start. */
  buckets: string[];
  /** The cluster's state folder (config, logs): removed by stop(). */
  stateDir: string;
  /** Stops the daemons and removes the state folder. Safe to call twice. */
  stop(): Promise<void>;
}

export interface CephRgwOptions {
  /** Buckets to create once the gateway is up (default none). */
  buckets?: readonly string[];
}

/** The Debian packages that provide the commands below: `apt-get install radosgw ceph-mon ceph-osd curl`. */
export const CEPH_RGW_APT_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd', 'curl'] as const;
const REQUIRED_COMMANDS = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool', 'curl'];
/** Consecutive ports the monitor's and OSD's messengers may bind (they use about a dozen). */
const MESSENGER_PORTS = 40;

/**
 * Why Ceph RGW cannot start on this machine (the commands it needs that are missing),
 * or undefined when it can.
 */
export function cephRgwMissing(): string | undefined {
  const missing = REQUIRED_COMMANDS.filter((command) => !commandExists(command));
  if (missing.length === 0) return undefined;
  return `Ceph RADOS Gateway is not installed (missing ${missing.join(', ')}): apt-get install ${CEPH_RGW_APT_PACKAGES.join(' ')}`;
}

/**
 * Starts a throwaway single-node Ceph cluster (one monitor, one in-memory OSD) with the
 * RADOS Gateway serving S3 on 127.0.0.1, on free ports, with its state in a fresh
 * folder under the OS temp dir. Takes about 15 s. The daemons are stopped by `stop()`,
 * when this process exits, and (by a watchdog) when it is killed outright.
 */
export async function startCephRgw(options: CephRgwOptions = {}): Promise<CephRgw> {
  const missing = cephRgwMissing();
  if (missing) throw new Error(`@blockvfs/test-servers: ${missing}`);
  let lastError: unknown;
  // Free ports are free when probed, not necessarily a moment later: one more try with new ones.
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnce(options: CephRgwOptions): Promise<CephRgw> {
  const stateDir = mkdtempSync(join(tmpdir(), 'blockvfs-ceph-'));
  const ports = await freePorts(3);
  const [rgwPort, monPort, monV2Port] = ports as [number, number, number];
  const portMin = await freePortRange(MESSENGER_PORTS, ports);
  const env = {
    ...process.env,
    CEPH_DIR: stateDir,
    CEPH_RGW_PORT: String(rgwPort),
    CEPH_MON_PORT: String(monPort),
    CEPH_MON_V2_PORT: String(monV2Port),
    CEPH_PORT_MIN: String(portMin),
    CEPH_PORT_COUNT: String(MESSENGER_PORTS),
    CEPH_OWNER_PID: String(process.pid),
  };

  // If this process ends without calling stop() (a crash, process.exit), still stop the daemons.
  const killOnExit = () => killDaemons(stateDir);
  process.once('exit', killOnExit);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killOnExit);
    await runScript(['stop'], env).catch(() => killDaemons(stateDir));
    rmSync(stateDir, { recursive: true, force: true });
  };

  try {
    const out = await runScript(['start'], env);
    const fields = Object.fromEntries(
      out
        .trim()
        .split(/\s+/)
        .map((pair) => pair.split('=', 2) as [string, string]),
    );
    const { endpoint, access_key: accessKeyId, secret_key: secretAccessKey, region } = fields;
    if (!endpoint || !accessKeyId || !secretAccessKey || !region) throw new Error(`ceph-rgw.sh start printed no connection info: ${out}`);
    const buckets = [...(options.buckets ?? [])];
    for (const bucket of buckets) await runScript(['bucket', bucket], env);
    return { endpoint, accessKeyId, secretAccessKey, region, buckets, stateDir, stop };
  } catch (error) {
    const logs = logTails(stateDir);
    await stop();
    throw new Error(`@blockvfs/test-servers: Ceph RGW did not start: ${(error as Error).message}${logs}`, { cause: error });
  }
}

function scriptPath(): string {
  // From src/ (tests, tsx) the script sits beside this file; from dist/ it is in ../src/.
  for (const relative of ['./ceph-rgw.sh', '../src/ceph-rgw.sh']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('@blockvfs/test-servers: ceph-rgw.sh not found next to ceph-rgw.ts');
}

/** Runs ceph-rgw.sh; resolves with its stdout, rejects with its stderr when it fails. */
function runScript(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [scriptPath(), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`ceph-rgw.sh ${args.join(' ')} exited with ${code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}

/** Synchronous, for the 'exit' event: SIGKILL every daemon this state folder records (nothing in it is worth keeping). */
function killDaemons(stateDir: string): void {
  const runDir = join(stateDir, 'run');
  if (!existsSync(runDir)) return;
  for (const file of readdirSync(runDir).filter((name) => name.endsWith('.fgpid'))) {
    const pid = Number(readFileSync(join(runDir, file), 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  rmSync(stateDir, { recursive: true, force: true });
}

/** The last lines of each daemon's output, for an error message that says why it did not start. */
function logTails(stateDir: string): string {
  const logDir = join(stateDir, 'log');
  if (!existsSync(logDir)) return '';
  let text = '';
  for (const file of ['mon.out', 'osd.out', 'rgw.out', 'client.rgw.a.log']) {
    const path = join(logDir, file);
    if (!existsSync(path)) continue;
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n').slice(-8).join('\n');
    if (lines) text += `\n--- ${file}\n${lines}`;
  }
  return text;
}

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function listen(port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `count` distinct ports the OS says are free on 127.0.0.1 (all held open together, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = await listen(0);
      if (!server) throw new Error('@blockvfs/test-servers: could not get a free port from the OS');
      servers.push(server);
    }
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** The first of `count` consecutive free ports on 127.0.0.1 (Ceph takes a range, not single ports). */
async function freePortRange(count: number, avoid: readonly number[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768 and up), where outgoing connections could take a port of ours.
    const first = 20000 + Math.floor(Math.random() * (32000 - 20000 - count));
    if (avoid.some((port) => port >= first && port < first + count)) continue;
    const held: Server[] = [];
    let ok = true;
    for (let port = first; port < first + count && ok; port++) {
      const server = await listen(port);
      if (server) held.push(server);
      else ok = false;
    }
    await Promise.all(held.map(close));
    if (ok) return first;
  }
  throw new Error(`@blockvfs/test-servers: found no ${count} consecutive free ports on 127.0.0.1`);
}
