import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/**
 * Lets an AbortSignal abort the HTTP requests that @google-cloud/storage makes on the
 * store's behalf.
 *
 * The SDK (8.x) sends its JSON-API requests through teeny-request and node-fetch 3 and
 * gives them no AbortSignal: no method of `File` or `Bucket` takes one, and its
 * `timeout` option is handed to node-fetch 3, which has no such option and ignores it.
 * So nothing in its API stops a request whose server never answers. Node's own HTTP
 * client does announce every request it creates on a diagnostics channel; the store
 * runs each attempt in an AsyncLocalStorage context holding the attempt's signal, and
 * a request created in that context (the SDK's retries of it included) is destroyed
 * when the signal aborts: its socket is closed, and a body half-read is read no more.
 *
 * A request the attempt did not start is never touched. One that the attempt started
 * for others too could be: google-auth-library refreshing an access token that
 * concurrent requests share; they then fail `transient` and are retried.
 */
const attemptSignal = new AsyncLocalStorage<AbortSignal>();
/** Requests already tied to a signal: each is announced on both channels below. */
const tied = new WeakSet<ClientRequest>();
let listening = false;

/** Runs `run` so that the HTTP requests it starts are destroyed when `signal` aborts. */
export function abortHttpRequestsOn<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
  if (signal === undefined) return run();
  if (!listening) {
    // `created` (Node ≥ 22.14) comes when the request object is made; `start`, in older
    // versions too, when it is sent. Either ties it; the first one wins.
    subscribe('http.client.request.created', tie);
    subscribe('http.client.request.start', tie);
    listening = true;
  }
  return attemptSignal.run(signal, run);
}

function tie(message: unknown): void {
  const signal = attemptSignal.getStore();
  const request = (message as { request?: ClientRequest } | null)?.request;
  if (signal === undefined || request === undefined || tied.has(request)) return;
  tied.add(request);
  // Started after the attempt gave up (a retry inside the SDK): it ends at once.
  if (signal.aborted) {
    request.destroy(signal.reason as Error);
    return;
  }
  const abort = () => request.destroy(signal.reason as Error);
  signal.addEventListener('abort', abort, { once: true });
  request.once('close', () => signal.removeEventListener('abort', abort));
}
