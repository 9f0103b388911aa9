import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { withRequestLog, type BlockStore, type RequestEvent } from '@blockvfs/core';
import { withFaults, withLatency } from '@blockvfs/core/testing';

function logged(store: BlockStore = new MemoryStore({ name: 'mem' })) {
  const events: RequestEvent[] = [];
  return { store: withRequestLog(store, (event) => events.push(event)), events };
}

/** An event without its timing, which varies. */
const shape = ({ ms, ...rest }: RequestEvent) => {
  expect(ms).toBeGreaterThanOrEqual(0);
  return rest;
};

describe('withRequestLog', () => {
  it('reports each request once it has finished: what, which key, bytes and outcome', async () => {
    const { store, events } = logged();
    await store.put('a', new Uint8Array(100));
    await store.put('b', new Uint8Array(7), { ifNoneMatch: '*' });
    const { etag } = await store.put('c', new Uint8Array(1));
    await store.put('c', new Uint8Array(2), { ifMatch: etag });
    await store.get('a', { offset: 10, length: 20 });
    await store.get('missing');
    await store.delete(['a', 'b']);
    expect(events.map(shape)).toEqual([
      { store: 'mem', op: 'put', key: 'a', bytes: 100, outcome: 'ok' },
      { store: 'mem', op: 'put', key: 'b', bytes: 7, condition: 'if-none-match', outcome: 'ok' },
      { store: 'mem', op: 'put', key: 'c', bytes: 1, outcome: 'ok' },
      { store: 'mem', op: 'put', key: 'c', bytes: 2, condition: 'if-match', outcome: 'ok' },
      { store: 'mem', op: 'get', key: 'a', range: { offset: 10, length: 20 }, bytes: 20, outcome: 'ok' },
      { store: 'mem', op: 'get', key: 'missing', bytes: 0, outcome: 'missing' },
      { store: 'mem', op: 'delete', key: 'a', keys: 2, bytes: 0, outcome: 'ok' },
    ]);
  });

  it('reports a failure with its kind and the error, and still throws it', async () => {
    const { store, events } = logged();
    await store.put('x', new Uint8Array(1));
    await expect(store.put('x', new Uint8Array(1), { ifNoneMatch: '*' })).rejects.toMatchObject({ kind: 'precondition-failed' });
    const faulty = logged(withFaults(new MemoryStore({ name: 'flaky' }), { at: 1 }));
    await expect(faulty.store.get('k')).rejects.toMatchObject({ kind: 'transient' });
    expect(events[1]).toMatchObject({ op: 'put', outcome: 'precondition-failed' });
    expect(events[1]?.error).toMatchObject({ kind: 'precondition-failed' });
    expect(faulty.events).toEqual([expect.objectContaining({ store: 'flaky', op: 'get', key: 'k', outcome: 'transient' })]);
  });

  it('reports a listing once, when it ends, with the entries yielded (also when left early)', async () => {
    const { store, events } = logged();
    for (const key of ['p/1', 'p/2', 'p/3', 'q/1']) await store.put(key, new Uint8Array(1));
    const all: string[] = [];
    for await (const entry of store.list('p/')) all.push(entry.key);
    for await (const _ of store.list('p/')) break;
    const listings = events.filter((event) => event.op === 'list').map(shape);
    expect(all).toEqual(['p/1', 'p/2', 'p/3']);
    expect(listings).toEqual([
      { store: 'mem', op: 'list', key: 'p/', keys: 3, bytes: 0, outcome: 'ok' },
      { store: 'mem', op: 'list', key: 'p/', keys: 1, bytes: 0, outcome: 'ok' },
    ]);
  });

  it('a listener that throws does not fail the request', async () => {
    const store = withRequestLog(new MemoryStore(), () => {
      throw new Error('broken logger');
    });
    await store.put('a', new Uint8Array(3));
    expect((await store.get('a'))?.length).toBe(3);
  });

  it('measures the time a request took', async () => {
    const events: RequestEvent[] = [];
    const store = withRequestLog(withLatency(new MemoryStore(), 30), (event) => events.push(event));
    await store.get('a');
    expect(events[0]?.ms).toBeGreaterThanOrEqual(25);
  });
});
