// Runs a command with a local cloud server started for it:
//
//   node packages/test-servers/dist/run-with-server.js <s3|gcs|azure> -- <command> [args…]
//
// Starts Ceph RGW (s3), the GCS test server (gcs) or Azurite (azure) on 127.0.0.1, with
// one bucket or container named `quickstart`, runs the command with the standard
// environment variables pointing at it (standard-env.ts), stops the server and exits with
// the command's status. This is how `pnpm example:s3|gcs|azure` run the cloud quickstarts
// on a machine with no cloud account: the quickstarts themselves read only the environment,
// so a user can copy them as they are.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { startAzurite } from './azurite.js';
import { startCephRgw } from './ceph-rgw.js';
import { startGcsTestServer } from './gcs-server/server.js';
import { azureEnv, CLOUDS, gcsEnv, s3Env, type Cloud } from './standard-env.js';

/** The bucket (S3, GCS) the server is started with; Azure's quickstart creates its container itself. */
const EXAMPLE_BUCKET = 'quickstart';

/** A started server: the variables that point at it, and how to stop it. */
interface ServerForCommand {
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function startServerFor(cloud: Cloud): Promise<ServerForCommand> {
  switch (cloud) {
    case 's3': {
      console.error('run-with-server: starting Ceph RGW on 127.0.0.1 (about 15 s)…');
      const rgw = await startCephRgw({ buckets: [EXAMPLE_BUCKET] });
      return { env: s3Env(rgw, EXAMPLE_BUCKET), stop: () => rgw.stop() };
    }
    case 'gcs': {
      const server = await startGcsTestServer({ buckets: [EXAMPLE_BUCKET] });
      return { env: gcsEnv(server, EXAMPLE_BUCKET), stop: () => server.stop() };
    }
    case 'azure': {
      console.error('run-with-server: starting Azurite on 127.0.0.1…');
      const azurite = await startAzurite();
      return { env: azureEnv(azurite), stop: () => azurite.stop() };
    }
  }
}

async function main(argv: string[]): Promise<number> {
  const [cloud, separator, command, ...args] = argv;
  if (!CLOUDS.includes(cloud as Cloud) || separator !== '--' || command === undefined) {
    console.error(`usage: run-with-server <${CLOUDS.join('|')}> -- <command> [args…]`);
    return 2;
  }
  const server = await startServerFor(cloud as Cloud);
  try {
    const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, ...server.env } });
    // Ctrl-C reaches the child through the terminal; this process only waits for it to end
    // and then stops the server, instead of dying first and leaving the server running.
    const ignore = () => {};
    process.on('SIGINT', ignore);
    process.on('SIGTERM', ignore);
    const code = await new Promise<number>((resolve) => {
      child.on('error', (error) => {
        console.error(`run-with-server: cannot run ${command}: ${error.message}`);
        resolve(127);
      });
      child.on('close', (status, signal) => resolve(status ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
    process.off('SIGINT', ignore);
    process.off('SIGTERM', ignore);
    return code;
  } finally {
    await server.stop();
  }
}

process.exitCode = await main(process.argv.slice(2));
