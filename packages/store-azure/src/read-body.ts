/**
 * Reads a download's body into one exactly-sized Uint8Array (not a Buffer, which may be
 * a view into Node's shared pool and is not deep-equal to a Uint8Array). When `signal`
 * aborts (the request timed out), the body stream is destroyed: the SDK aborts the
 * response itself, and this also ends a stream that did not hear of it.
 */
export async function readBody(body: NodeJS.ReadableStream | undefined, signal?: AbortSignal): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  signal?.addEventListener('abort', () => (body as { destroy?: (error?: Error) => void }).destroy?.(signal.reason as Error), { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    chunks.push(bytes);
    total += bytes.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
