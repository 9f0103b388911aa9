import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { isBlockVfsError, isRequestTimeout, type BlockStore, type BlockVfsError, type RequestTimeoutOption, type RetryOptions } from '@blockvfs/core/store';
import type { DescribeFunction, ItFunction } from './options.js';

/** A request as a stalling server saw it. */
export interface StalledRequestLike {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
}

/** An answer a stalling server starts and never finishes: status, headers (with the whole body's length) and the first part of `body`. */
export interface PartialAnswerLike {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/**
 * An HTTP server on 127.0.0.1 that leaves requests hanging, for the suite: the
 * repository's `StallingServer` (@blockvfs/test-servers) fits as it is.
 */
export interface StallingServerLike {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Each request's fate: the suite uses `silent` (never answered) and a PartialAnswerLike (half sent, then nothing). */
  rule: (request: StalledRequestLike) => 'silent' | 'half' | 'forward' | PartialAnswerLike;
  /** Every request left hanging so far, as `METHOD /path?query`. */
  readonly stalled: string[];
  /** Waits until the client closed every stalled connection; resolves to how many are still open. */
  connectionsLeftOpen(withinMs?: number): Promise<number>;
  close(): Promise<void>;
}

/** The options the suite creates stores with: the suite's timeout and retry, or the case's own. */
export interface TimedStoreOptions {
  requestTimeoutMs?: RequestTimeoutOption;
  retry?: RetryOptions | false;
}

export interface RequestTimeoutSuiteOptions {
  describe: DescribeFunction;
  it: ItFunction;
  /** Shown in the describe, e.g. `S3Store`. */
  name: string;
  /** The store's package, e.g. `@blockvfs/store-s3`: every message starts with it. */
  source: string;
  /** Starts a stalling server (e.g. `() => StallingServer.start()`); each case starts its own and closes it. */
  startServer: () => Promise<StallingServerLike>;
  /**
   * A store whose client sends every request to `endpoint` (with a fresh client: the
   * server is restarted by one case), with `options` passed on, prefix `p/`. Unless
   * `sdkRetries` is false, the client is made as users make it, its SDK's own retries on;
   * the store's timeout must end them.
   */
  createStore: (endpoint: string, options: TimedStoreOptions, sdkRetries: boolean) => BlockStore;
  /** A download of 8 KiB and a list page of two keys (`p/a`, `p/b`), in the provider's format: the server sends half of it and stalls. */
  partialAnswer: (request: StalledRequestLike) => PartialAnswerLike;
  /** The HTTP methods of one attempt of a conditional put that times out: the put, then its read-back (e.g. `['PUT', 'GET']`). */
  conditionalPutMethods: readonly [put: string, readBack: string];
  /** Whether a stalled request (`METHOD /path?query`) is a list request: the SDK's retries must not add others. */
  isListRequest: (stalled: string) => boolean;
}

/** The timeout every case gives its store, in milliseconds. */
const TIMEOUT = 300;
/** One retry after the first attempt: every call makes two attempts. */
const RETRY: RetryOptions = { retries: 1, baseDelayMs: 10 };
const ATTEMPTS = 2;
/** A timed-out call takes its attempts' timeouts, the backoff between them, and this much more at most. */
const SLACK_MS = 700;
const bytes = (text: string) => new TextEncoder().encode(text);

/**
 * Registers the request-timeout cases every cloud store must pass: a store pointed at a
 * server that accepts connections and never answers (or answers half a body and
 * stalls) fails each call `transient` after one `requestTimeoutMs` per attempt, with a
 * message naming the store, the call and the timeout and a RequestTimeoutError as
 * cause, and leaves no connection open; the SDK's own retries never stretch an attempt;
 * a conditional put that timed out is read back, never reported as a lost race;
 * `requestTimeoutMs` is validated, and `false` turns it off.
 */
export function defineRequestTimeoutTests(options: RequestTimeoutSuiteOptions): void {
  const { describe, it, source, createStore } = options;

  let warm = false;
  /**
   * Runs `body` against a fresh stalling server, closed afterwards. The first time, one
   * call is made first and its outcome ignored: an SDK's first request in a process
   * loads and prepares code (hundreds of ms on a busy machine), which would otherwise
   * eat into the first measured attempt's timeout before its request is even sent.
   */
  const withServer = (body: (server: StallingServerLike) => Promise<void>) => async (): Promise<void> => {
    const server = await options.startServer();
    try {
      if (!warm) {
        await createStore(server.endpoint, { requestTimeoutMs: TIMEOUT, retry: false }, false)
          .get('warm-up')
          .catch(() => undefined);
        warm = true;
        await server.connectionsLeftOpen();
        server.stalled.length = 0;
      }
      await body(server);
    } finally {
      await server.close();
    }
  };
  const store = (server: StallingServerLike, overrides: TimedStoreOptions = {}, sdkRetries = true) =>
    createStore(server.endpoint, { requestTimeoutMs: TIMEOUT, retry: RETRY, ...overrides }, sdkRetries);

  /** The call's error: transient, `<source> (<store>): <what> timed out after 300 ms`, a RequestTimeoutError as cause, in bounded time, its sockets closed. */
  const expectTimedOut = async (
    server: StallingServerLike,
    s: BlockStore,
    call: Promise<unknown>,
    what: string | RegExp,
    attempts = ATTEMPTS,
    requestsPerAttempt = 1,
  ) => {
    server.stalled.length = 0;
    const { error, ms } = await timedRejection(call);
    assert.equal(error.kind, 'transient', error.message);
    const prefix = `${source} (${s.name}): `;
    const suffix = ` timed out after ${TIMEOUT} ms`;
    if (typeof what === 'string') assert.equal(error.message, `${prefix}${what}${suffix}`);
    else
      assert.ok(
        error.message.startsWith(prefix) && error.message.endsWith(suffix) && what.test(error.message.slice(prefix.length, -suffix.length)),
        error.message,
      );
    assert.ok(isRequestTimeout(error.cause), `the cause is a RequestTimeoutError: ${String(error.cause)}`);
    assert.ok(ms >= attempts * TIMEOUT * 0.95, `took ${ms} ms, less than ${attempts} timeouts`); // timers may fire a few ms early by the wall clock
    assert.ok(ms < attempts * TIMEOUT + SLACK_MS, `took ${ms} ms, more than ${attempts} timeouts and ${SLACK_MS} ms`);
    assert.equal(server.stalled.length, attempts * requestsPerAttempt, `requests: ${server.stalled.join(', ')}`);
    assert.equal(await server.connectionsLeftOpen(), 0, 'connections left open');
  };

  describe(`${options.name} requestTimeoutMs (shared request-timeout suite)`, () => {
    it(
      'is validated: a whole number of milliseconds, or false',
      withServer(async (server) => {
        for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, '300', true]) {
          assert.throws(
            () => store(server, { requestTimeoutMs: bad as never }),
            (error: unknown) => isBlockVfsError(error, 'invalid'),
            String(bad),
          );
        }
        assert.throws(() => store(server, { requestTimeoutMs: 0 }), /false turns the timeout off/);
        store(server, { requestTimeoutMs: false });
        store(server, { requestTimeoutMs: undefined });
      }),
    );

    describe('a server that accepts connections and never answers', () => {
      it(
        'get, put, delete and list each fail transient after one timeout per attempt, and close their sockets',
        withServer(async (server) => {
          const s = store(server);
          await expectTimedOut(server, s, s.get('db/log/000000000003'), 'get "db/log/000000000003"');
          await expectTimedOut(server, s, s.get('k', { offset: 4096, length: 4096 }), 'get "k" (bytes 4096+4096)');
          await expectTimedOut(server, s, s.get('k', { offset: 0, length: 0 }), 'get "k" (bytes 0+0)');
          await expectTimedOut(server, s, s.put('k', bytes('v')), 'put "k"');
          await expectTimedOut(server, s, s.delete(['a']), 'delete "a"');
          // A store that deletes one key per request (GCS) sends both at once; the first to fail is reported.
          const perRequest = s.capabilities.maxDeleteBatch === 1;
          await expectTimedOut(server, s, s.delete(['a', 'b']), perRequest ? /^delete "[ab]"$/ : 'delete 2 keys from "a"', ATTEMPTS, perRequest ? 2 : 1);
          await expectTimedOut(server, s, listAll(s, 'db/'), 'list "db/"');
          // The SDK's own retries never got a turn: the timeout ended each call.
          assert.ok(server.stalled.every(options.isListRequest), server.stalled.join(', '));
        }),
      );

      it(
        'with `retry: false` a call makes one attempt: the SDK does not retry a timed-out call',
        withServer(async (server) => {
          const s = store(server, { retry: false });
          await expectTimedOut(server, s, s.get('k'), 'get "k"', 1);
        }),
      );

      it(
        'a conditional put that timed out is read back before deciding, never reported as a lost race',
        withServer(async (server) => {
          const s = store(server);
          // Each attempt: the put times out, then its read-back times out too: the outcome is unknown.
          const { error, ms } = await timedRejection(s.put('c', bytes('mine'), { ifNoneMatch: '*' }));
          assert.equal(error.kind, 'transient');
          assert.equal(
            error.message,
            `${source} (${s.name}): put "c" (if absent): outcome unknown after timeout (${TIMEOUT} ms), and reading it back failed: timeout (${TIMEOUT} ms)`,
          );
          const [put, readBack] = options.conditionalPutMethods;
          assert.deepEqual(
            server.stalled.map((line) => line.split(' ')[0]),
            [put, readBack, put, readBack],
          );
          assert.ok(ms < 4 * TIMEOUT + SLACK_MS, `took ${ms} ms`);
          assert.equal(await server.connectionsLeftOpen(), 0, 'connections left open');
        }),
      );

      it('false turns the timeout off: the call waits for as long as the server does', async () => {
        const server = await options.startServer();
        const s = store(server, { requestTimeoutMs: false, retry: false }, false);
        let settled = false;
        const pending = s.get('k').finally(() => {
          settled = true;
        });
        pending.catch(() => undefined); // awaited below
        await new Promise((resolve) => setTimeout(resolve, 3 * TIMEOUT));
        assert.equal(settled, false);
        // Closing the server is what ends it: a dropped connection.
        await server.close();
        const error = await pending.then(
          () => assert.fail('expected a rejection'),
          (e: unknown) => e,
        );
        assert.ok(isBlockVfsError(error, 'transient'), String(error));
      });
    });

    describe('a server that answers half a body and stalls', () => {
      it(
        'a download whose body stops half-way fails transient, its socket closed',
        withServer(async (server) => {
          server.rule = options.partialAnswer;
          const s = store(server);
          await expectTimedOut(server, s, s.get('db/log/000000000003'), 'get "db/log/000000000003"');
        }),
      );

      it(
        'a listing whose page stops half-way fails transient, its socket closed',
        withServer(async (server) => {
          server.rule = options.partialAnswer;
          const s = store(server);
          await expectTimedOut(server, s, listAll(s), 'list ""');
        }),
      );
    });
  });
}

/** What `promise` rejected with (a BlockVfsError), and how long it took. */
async function timedRejection(promise: Promise<unknown>): Promise<{ error: BlockVfsError; ms: number }> {
  const start = performance.now();
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  const ms = performance.now() - start;
  assert.ok(isBlockVfsError(error), `expected a BlockVfsError, got ${String(error)}`);
  return { error, ms };
}

async function listAll(store: BlockStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const entry of store.list(prefix)) keys.push(entry.key);
  return keys;
}
