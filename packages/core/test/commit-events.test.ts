import { MemoryStore } from '@blockvfs/store-memory';
import { describe, expect, it } from 'vitest';
import { AtomicFormat, PagedFile, type CommitEvent } from '@blockvfs/core/format';
import { ManualClock } from '@blockvfs/core/testing';
import { pattern } from './helpers.js';

describe('onCommit', () => {
  it('tells each commit once its record exists: seq, size, blocks and bytes written, inline or not', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const events: CommitEvent[] = [];
    const format = await AtomicFormat.open(store, 'db', { blockSize: 1024, clock, inlineLimit: 2048, onCommit: (e) => events.push(e) });
    const file = new PagedFile(format);
    await file.write(pattern(1024, 1), 0);
    await file.sync();
    await file.write(pattern(4096, 2), 1024);
    await file.sync();
    expect(events).toEqual([
      { name: 'db', seq: 1, time: clock.now(), size: 1024, blocks: 1, bytes: 1024, inline: true, ms: 0 },
      { name: 'db', seq: 2, time: clock.now(), size: 5120, blocks: 4, bytes: 4096, inline: false, ms: 0 },
    ]);
    await format.close();
  });

  it('a listener that throws fails no commit', async () => {
    const store = new MemoryStore();
    const format = await AtomicFormat.open(store, 'db', {
      blockSize: 1024,
      onCommit: () => {
        throw new Error('broken logger');
      },
    });
    const file = new PagedFile(format);
    await file.write(pattern(10, 1), 0);
    await file.sync();
    expect(format.seq).toBe(1);
  });
});
