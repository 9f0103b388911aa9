import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStore } from '@blockvfs/store-fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Racer, bundleRacer } from './child-processes.js';
import type { Reply } from './fixtures/racer.js';

const PROCESSES = 6;
const ROUNDS = 4;

describe('FsStore across processes', () => {
  let script: string;
  let root: string;
  let racers: Racer[];

  beforeAll(async () => {
    script = await bundleRacer();
    root = await mkdtemp(join(tmpdir(), 'blockvfs-fs-mp-'));
    racers = Array.from({ length: PROCESSES }, () => new Racer(script, root));
    await Promise.all(racers.map((racer) => racer.ready));
  });

  afterAll(async () => {
    await Promise.all(racers?.map((racer) => racer.close()) ?? []);
    if (root) await rm(root, { recursive: true, force: true });
    if (script) await rm(join(script, '..'), { recursive: true, force: true });
  });

  /** The one winner's index; everyone else must have lost with precondition-failed. */
  function oneWinner(replies: Reply[]): number {
    const winners = replies.flatMap((reply, i) => (reply.ok ? [i] : []));
    expect(winners, JSON.stringify(replies)).toHaveLength(1);
    for (const reply of replies) if (!reply.ok) expect(reply.kind, reply.message).toBe('precondition-failed');
    return winners[0] as number;
  }

  const text = (round: number, i: number) => `process ${i} wrote round ${round}: ${'x'.repeat(4000 + i)}`;

  it('processes racing on create-if-absent of one key: exactly one wins, its bytes are stored', async () => {
    const store = new FsStore({ root });
    for (let round = 0; round < ROUNDS; round++) {
      const key = `create/${round}`;
      const replies = await Promise.all(racers.map((racer, i) => racer.send({ op: 'put', key, text: text(round, i), condition: { ifNoneMatch: '*' } })));
      const winner = oneWinner(replies);
      expect(new TextDecoder().decode(await store.get(key))).toBe(text(round, winner));
    }
  });

  it('processes racing on ifMatch from the same etag: exactly one wins, its bytes are stored', async () => {
    const store = new FsStore({ root });
    let { etag } = await store.put('lease', new TextEncoder().encode('initial'));
    for (let round = 0; round < ROUNDS; round++) {
      const replies = await Promise.all(racers.map((racer, i) => racer.send({ op: 'put', key: 'lease', text: text(round, i), condition: { ifMatch: etag } })));
      const winner = oneWinner(replies);
      expect(new TextDecoder().decode(await store.get('lease'))).toBe(text(round, winner));
      etag = (replies[winner] as { etag: string }).etag;
    }
  });

  it('read-modify-write with ifMatch from several processes loses no update', async () => {
    const store = new FsStore({ root });
    await store.put('counter', new TextEncoder().encode('0'));
    const times = 8;
    const replies = await Promise.all(racers.map((racer) => racer.send({ op: 'increment', key: 'counter', times })));
    for (const reply of replies) expect(reply.ok, JSON.stringify(reply)).toBe(true);
    expect(new TextDecoder().decode(await store.get('counter'))).toBe(String(PROCESSES * times));
    // The test is only worth something if the processes did collide.
    const conflicts = replies.reduce((sum, reply) => sum + (reply.ok ? (reply.conflicts ?? 0) : 0), 0);
    expect(conflicts).toBeGreaterThan(0);
  });

  it('plain puts from several processes leave one whole version and no temp or lock files', async () => {
    const store = new FsStore({ root });
    const replies = await Promise.all(racers.map((racer, i) => racer.send({ op: 'put', key: 'plain/k', text: text(99, i) })));
    for (const reply of replies) expect(reply.ok).toBe(true);
    const stored = new TextDecoder().decode(await store.get('plain/k'));
    expect(racers.map((_, i) => text(99, i))).toContain(stored);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(join(root, 'plain~'))).toEqual(['k']);
  });
});
