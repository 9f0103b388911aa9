import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat, VIEW_TRUST_MS, type AtomicFormatOptions } from '../src/atomic/atomic-format.js';
import { readHead } from '../src/atomic/history.js';
import { atomicCheckpointKey, atomicCommitKey, encodeRecord } from '../src/atomic/objects.js';
import { ManualClock, withFaults } from '@blockvfs/core/testing';
import { PagedFile } from '@blockvfs/core/format';
import { collectGarbage, isBlockVfsError, MIN_GRACE_MS, type BlockStore } from '@blockvfs/core';
import { expectSameBytes, pattern } from './helpers.js';

/**
 * One test per safety check of the atomic layout that no ordinary workload reaches: a
 * race inside a fetch window, a collection during an open, a view left idle past the
 * grace period, two processes updating the head, a lease that lapses between writes.
 * The mutation check (scripts/mutation-check.mjs) disables each check in turn and
 * expects a test here (or in trust.test.ts) to fail.
 */

const MINUTE = 60_000;
const BLOCK = 1024;

async function openFile(store: BlockStore, options: Partial<AtomicFormatOptions> = {}, maxDirtyBytes?: number) {
  const format = await AtomicFormat.open(store, 'db', { blockSize: BLOCK, cacheBytes: 0, ...options });
  return { format, file: new PagedFile(format, maxDirtyBytes === undefined ? {} : { maxDirtyBytes }) };
}

async function contents(file: PagedFile): Promise<Uint8Array> {
  const bytes = new Uint8Array(file.size);
  await file.read(bytes, 0);
  return bytes;
}

async function latest(store: BlockStore): Promise<Uint8Array> {
  return contents((await openFile(store)).file);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Commits `count` writes of 300 bytes at spread offsets (each its own commit). */
async function commits(file: PagedFile, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    await file.write(pattern(300, i), (i * 997) % 8000);
    await file.sync();
  }
}

/**
 * `store` whose next get of `hide` (once armed) is answered "missing", as if that GET
 * reached the store just before the object was created while the GETs beside it came after.
 */
function missingOnce(store: BlockStore): BlockStore & { hide: string | undefined } {
  const wrapper = {
    name: store.name,
    capabilities: store.capabilities,
    hide: undefined as string | undefined,
    get: async (k: string, range?: { offset: number; length?: number }) => {
      if (k === wrapper.hide) {
        wrapper.hide = undefined;
        return undefined;
      }
      return store.get(k, range);
    },
    put: store.put.bind(store),
    delete: store.delete.bind(store),
    list: store.list.bind(store),
  };
  return wrapper;
}

describe('catching up', () => {
  it('a record seen after a missing one in the same fetch window is not applied (it was created after that GET)', async () => {
    const store = new MemoryStore();
    const writer = await openFile(store);
    await commits(writer.file, 1, 3);
    const racing = missingOnce(store);
    const reader = await openFile(racing);
    await commits(writer.file, 4, 3); // commits 4, 5, 6
    // The reader's refresh fetches 4, then 5 and 6 together: 5 looks missing, 6 is there.
    racing.hide = atomicCommitKey('db', 5);
    expect(await reader.file.refresh()).toBe(true);
    expect(reader.format.seq).toBe(4);
    expectSameBytes(await contents(reader.file), await contents((await openFile(store, { asOf: 4 })).file), 'at commit 4');
    await reader.file.refresh();
    expect(reader.format.seq).toBe(6);
    expectSameBytes(await contents(reader.file), await contents(writer.file), 'after the next refresh');
  });

  it('a record with another block size than the file is refused', async () => {
    const store = new MemoryStore();
    const writer = await openFile(store);
    await commits(writer.file, 1, 2);
    await store.put(
      atomicCommitKey('db', 3),
      encodeRecord({ seq: 3, tag: '0123456789abcdef', time: 1, size: 512, blockSize: 512, blocks: [], inline: [[0, pattern(512, 3)]] }).bytes,
    );
    const error = await rejection(openFile(store));
    expect(isBlockVfsError(error, 'permanent')).toBe(true);
    expect((error as Error).message).toMatch(/commit 3 of "db" has block size 512, but the file has 1024/);
  });
});

describe('views older than the trust window, and collections', () => {
  /** A writer with commits 1…`count` spread one minute apart by `clock`, then a checkpoint. */
  async function history(clock: ManualClock, count: number) {
    const store = new MemoryStore();
    const writer = await openFile(store, { clock, checkpointEvery: 0 });
    for (let i = 1; i <= count; i++) {
      await commits(writer.file, i, 1);
      clock.advance(MINUTE);
    }
    return { store, writer };
  }

  it('a view idle past the grace period re-reads the head, and reloads from the checkpoint a collection left', async () => {
    const clock = new ManualClock();
    const { store, writer } = await history(clock, 3);
    const reader = await openFile(store, { clock });
    await commits(writer.file, 4, 5);
    await writer.format.checkpoint();
    clock.advance(MIN_GRACE_MS + MINUTE);
    const report = await collectGarbage({ store, name: 'db', retentionMs: 0, graceMs: MIN_GRACE_MS, now: clock.now() });
    expect(report.deleted.records).toBe(8); // every record the reader would have caught up with
    await reader.file.refresh();
    expect(reader.format.seq).toBe(8);
    expectSameBytes(await contents(reader.file), await contents(writer.file));
  });

  it('an open that a collection overtakes (after the open read its checkpoint) starts over from the new checkpoint', async () => {
    const clock = new ManualClock();
    const { store, writer } = await history(clock, 5);
    await writer.format.checkpoint(); // checkpoint 5
    await commits(writer.file, 6, 3);
    clock.advance(MIN_GRACE_MS + MINUTE);
    let collected = false;
    const overtaken: BlockStore = {
      name: store.name,
      capabilities: store.capabilities,
      get: async (key, range) => {
        const bytes = await store.get(key, range);
        if (key === atomicCheckpointKey('db', 5) && !collected) {
          collected = true; // the collection runs right after the open read checkpoint 5
          await collectGarbage({ store, name: 'db', retentionMs: 0, graceMs: MIN_GRACE_MS, now: clock.now() });
        }
        return bytes;
      },
      put: (key, data, condition) => store.put(key, data, condition),
      delete: (keys) => store.delete(keys),
      list: (prefix, options) => store.list(prefix, options),
    };
    const reader = await openFile(overtaken, { clock });
    expect(collected).toBe(true);
    expect(reader.format.seq).toBe(8);
    expectSameBytes(await contents(reader.file), await contents(writer.file));
  });

  it('a reload never goes back: a process that knows commit 6 keeps it when records before it were deleted', async () => {
    const clock = new ManualClock();
    const { store, writer } = await history(clock, 3);
    await writer.format.checkpoint(); // checkpoint 3
    await commits(writer.file, 4, 3);
    const racing = missingOnce(store);
    const reader = await openFile(racing, { clock });
    expect(reader.format.seq).toBe(6);
    // A lifecycle rule deletes records 4–6 (older than some age); the reader already applied them.
    await store.delete([4, 5, 6].map((seq) => atomicCommitKey('db', seq)));
    await commits(writer.file, 7, 2);
    clock.advance(VIEW_TRUST_MS + 1);
    // The reader's GET of 7 comes just before it exists, its listing just after 8 does: a reload.
    racing.hide = atomicCommitKey('db', 7);
    await reader.file.refresh();
    expect(reader.format.seq).toBe(8);
    expectSameBytes(await contents(reader.file), await contents(writer.file));
  });
});

describe('commits', () => {
  it('after a commit of unknown outcome, the next refresh looks, whatever the freshness', async () => {
    const clock = new ManualClock();
    const inner = new MemoryStore();
    const landing = withFaults(inner, { mode: 'fail-after', ops: ['put'], keys: /\/log\//, at: [] });
    const unreadable = withFaults(landing, { ops: ['get'], keys: /\/log\//, at: [] });
    const { format, file } = await openFile(unreadable, { clock, freshnessMs: 10 * MINUTE });
    await commits(file, 1, 1);
    await file.write(pattern(100, 2), 0);
    landing.faults.failNext(); // the record is created, its answer lost...
    unreadable.faults.failNext(); // ...and so is the read-back that would settle it
    expect(await rejection(file.sync())).toMatchObject({ kind: 'transient' });
    file.discard();
    expect(format.refreshNeeded()).toBe(true);
    await file.refresh();
    expect(format.seq).toBe(2); // it landed: the next refresh found it
  });

  it('head updates are conditional: checkpoints of two processes both stay listed, and the head never goes back', async () => {
    const store = new MemoryStore();
    const a = await openFile(store, { checkpointEvery: 0 });
    await commits(a.file, 1, 1);
    await a.format.checkpoint(); // the head lists 1; a knows its etag
    const b = await openFile(store, { checkpointEvery: 0 });
    await commits(b.file, 2, 1);
    await b.format.checkpoint(); // the head lists 1 and 2, written by b
    await a.file.refresh();
    await commits(a.file, 3, 1);
    await a.format.checkpoint(); // a's known etag is stale: it must read the head again, not overwrite it
    expect((await readHead(store, 'db'))?.checkpoints).toEqual([1, 2, 3]);
  });

  it('a format refreshed between staging blocks and committing them refuses the commit (its staged blocks belong to another seq)', async () => {
    const store = new MemoryStore();
    const writer = await openFile(store);
    await commits(writer.file, 1, 1);
    const other = await openFile(store);
    await writer.format.stage(new Map([[0, pattern(BLOCK, 7)]]));
    await commits(other.file, 2, 1);
    await writer.format.refresh(); // a caller of the format alone can do this; PagedFile refuses while dirty
    const error = await rejection(writer.format.commit({ size: BLOCK * 2, blocks: new Map() }));
    expect(isBlockVfsError(error, 'precondition-failed')).toBe(true);
    expectSameBytes(await latest(store), await contents(other.file));
  });

  it('every block object holds its block trimmed to the size: a commit that changes the size rewrites the partial last block itself', async () => {
    const store = new MemoryStore();
    const { format } = await openFile(store, { inlineLimit: 0 });
    const five = pattern(5000, 1);
    await format.commit({ size: 5000, blocks: new Map([0, 1, 2, 3, 4].map((i) => [i, five.slice(i * BLOCK, (i + 1) * BLOCK)])) });
    await format.commit({ size: 2500, blocks: new Map() }); // block 2 becomes the last, 452 bytes
    expectSameBytes(await latest(store), five.subarray(0, 2500), 'after shrinking');
    await format.commit({ size: 4000, blocks: new Map([[3, pattern(BLOCK, 2)]]) }); // block 2 becomes full again (zeros past 452)
    const expected = new Uint8Array(4000);
    expected.set(five.subarray(0, 2500));
    expected.set(pattern(BLOCK, 2).subarray(0, 4000 - 3 * BLOCK), 3 * BLOCK);
    expectSameBytes(await latest(store), expected, 'after growing');
  });
});

describe('the writer lease', () => {
  it('is renewed when half its ttl is left, so an active writer never lets it lapse between writes', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const a = await openFile(store, { clock, lease: { ttlMs: 10_000 } });
    await a.file.beginWrite();
    await commits(a.file, 1, 1);
    clock.advance(6000); // 4 s left: under half
    await a.file.beginWrite();
    await commits(a.file, 2, 1);
    clock.advance(4500); // past the first expiry, not the renewed one
    const b = await openFile(store, { clock, lease: true });
    expect(isBlockVfsError(await rejection(b.file.beginWrite()), 'precondition-failed')).toBe(true);
  });
});

describe('garbage collection', () => {
  it('a gap before the checkpoint is permanent damage naming the record, not "try again"', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const writer = await openFile(store, { clock, checkpointEvery: 0 });
    for (let i = 1; i <= 10; i++) {
      await commits(writer.file, i, 1);
      clock.advance(MINUTE);
    }
    await writer.format.checkpoint();
    await store.delete([atomicCommitKey('db', 3)]);
    // Keep commits from 5 on: the collector rebuilds commit 5 from records 1…5 (there is no older checkpoint) and finds 3 missing.
    const error = await rejection(collectGarbage({ store, name: 'db', retentionMs: 6 * MINUTE - 1, graceMs: MIN_GRACE_MS, now: clock.now() }));
    expect(isBlockVfsError(error, 'permanent')).toBe(true);
    expect((error as Error).message).toContain(`commit record "${atomicCommitKey('db', 3)}" is missing, but later ones exist`);
  });
});

describe('a writer idle past the grace period', () => {
  it('looks before it commits: it never re-creates a record a collection removed, nor commits on blocks it deleted', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    // Within its freshness a writer's transactions do not look for other commits; its commit must.
    const idle = await openFile(store, { clock, freshnessMs: 30 * MINUTE, checkpointEvery: 0 });
    await commits(idle.file, 1, 2);
    const busy = await openFile(store, { clock, checkpointEvery: 0 });
    await commits(busy.file, 3, 4); // commits 3…6
    await busy.format.checkpoint();
    clock.advance(15 * MINUTE);
    await collectGarbage({ store, name: 'db', retentionMs: 0, graceMs: MIN_GRACE_MS, now: clock.now() }); // records 1…6 go
    expect(await store.get(atomicCommitKey('db', 3))).toBeUndefined();
    await idle.file.write(pattern(100, 99), 0);
    expect(isBlockVfsError(await rejection(idle.file.sync()), 'precondition-failed')).toBe(true);
    expect(await store.get(atomicCommitKey('db', 3))).toBeUndefined(); // not re-created below commit 6
    idle.file.discard();
    await idle.file.refresh();
    expectSameBytes(await contents(idle.file), await contents(busy.file), 'the idle writer, after its refresh');
    await idle.file.write(pattern(100, 99), 0);
    await idle.file.sync();
    expect(idle.format.seq).toBe(7);
  });
});

describe('checkpoints of an old view', () => {
  it('a view idle past a collection writes no checkpoint: its blocks may be gone', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const stale = await openFile(store, { clock, checkpointEvery: 0, inlineLimit: 0 });
    await commits(stale.file, 1, 2);
    const busy = await openFile(store, { clock, checkpointEvery: 0, inlineLimit: 0 });
    for (let i = 3; i <= 5; i++) {
      clock.advance(3 * MINUTE);
      await commits(busy.file, i, 1);
    }
    const { oldestKept } = await collectGarbage({ store, name: 'db', retentionMs: 0, graceMs: MIN_GRACE_MS, now: clock.now() });
    expect(oldestKept).toBeGreaterThan(2);
    await stale.format.checkpoint(); // its view is commit 2, below the oldest kept
    expect(await store.get(atomicCheckpointKey('db', 2))).toBeUndefined();
    expect((await readHead(store, 'db'))?.checkpoints).toEqual([oldestKept]);
  });
});

describe('records at or below the head’s oldest', () => {
  it('an open whose catch-up began below an oldest that moved meanwhile starts over: records there may be late landings', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const start = clock.now();
    const writer = await openFile(store, { clock, checkpointEvery: 0 });
    for (let i = 1; i <= 6; i++) {
      await commits(writer.file, i, 1);
      if (i === 2) await writer.format.checkpoint();
      clock.advance(MINUTE);
    }
    let collected = false;
    const overtaken: BlockStore = {
      name: store.name,
      capabilities: store.capabilities,
      get: async (key, range) => {
        const bytes = await store.get(key, range);
        if (key === atomicCheckpointKey('db', 2) && !collected) {
          collected = true;
          // Right after the open read checkpoint 2: a collection keeps commits from 4 on (deleting records
          // 1–4), then two create-if-absent PUTs of dead writers land late, re-creating records 3 and 4.
          const report = await collectGarbage({ store, name: 'db', retentionMs: 0, graceMs: MIN_GRACE_MS, now: start + 5 * MINUTE });
          expect(report.oldestKept).toBe(4);
          for (const seq of [3, 4]) {
            const late = {
              seq,
              tag: `dead00000000000${seq}`,
              time: start,
              size: BLOCK,
              blockSize: BLOCK,
              blocks: [],
              inline: [[0, pattern(BLOCK, 99)]] as Array<[number, Uint8Array]>,
            };
            await store.put(atomicCommitKey('db', seq), encodeRecord(late).bytes, { ifNoneMatch: '*' });
          }
        }
        return bytes;
      },
      put: (key, data, condition) => store.put(key, data, condition),
      delete: (keys) => store.delete(keys),
      list: (prefix, options) => store.list(prefix, options),
    };
    const reader = await openFile(overtaken, { clock });
    expect(collected).toBe(true);
    expect(reader.format.seq).toBe(6);
    expectSameBytes(await contents(reader.file), await contents(writer.file));
  });
});
