import { randomBytes } from 'node:crypto';
// Brings 'vitest' into the type program so that the augmentation below finds it
// (importing only 'vitest/node' leaves it out: TS2664). Erased at run time.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startAzurite } from './azurite.js';

/** What the `azure` vitest project's tests get from `inject('azure')`. */
export interface AzureTestConnection {
  /** For `BlobServiceClient.fromConnectionString`. */
  connectionString: string;
  /** True for the local Azurite, false for a real account given by AZURE_STORAGE_CONNECTION_STRING. */
  emulator: boolean;
  /** Unique per test run: tests put it in their container names, so runs never share containers. */
  runId: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    azure: AzureTestConnection;
  }
}

/**
 * Global setup of the `azure` project: starts Azurite on 127.0.0.1, or, when
 * AZURE_STORAGE_CONNECTION_STRING is set, uses that account instead (the tests then
 * create and delete their own uniquely named containers in it).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const real = process.env.AZURE_STORAGE_CONNECTION_STRING;
  if (real) {
    project.provide('azure', { connectionString: real, emulator: false, runId });
    return async () => {};
  }
  const server = await startAzurite();
  project.provide('azure', { connectionString: server.connectionString, emulator: true, runId });
  // azurite.ts also kills the server when this process exits, should teardown never run.
  return () => server.stop();
}
