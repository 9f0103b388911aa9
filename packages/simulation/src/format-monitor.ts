import { DEFAULT_INLINE_LIMIT, blockCount, blockLength } from '@blockvfs/core/format';
import type { PutCondition } from '@blockvfs/core/store';
import {
  blockKeyOf,
  checkpointKeyOf,
  crc32c,
  decodeCheckpointObject,
  decodeHeadObject,
  decodeLeaseObject,
  decodeRecordObject,
  decodeSegmentObject,
  parseKey,
  segmentKeyOf,
  type HeadObject,
  type MapEntries,
  type RecordObject,
} from './envelope.js';
import type { GuaranteeId } from './guarantees.js';
import type { ObjectObserver, SimObjects } from './sim-objects.js';

/**
 * Watches every change to the simulated bucket the instant it takes effect and checks
 * it against the on-store format (docs/atomic-format.md): the store-level half of the
 * oracle. It keeps its own shadow of the history (every record ever created, and the
 * block map after each commit), computed from the records alone, so it can tell whether
 * a checkpoint is right and whether a deleted object was still needed.
 */

/** The state after a commit, as the records say. */
export interface ShadowState {
  seq: number;
  time: number;
  size: number;
  blockSize: number;
  map: Map<number, { seq: number; tag: string }>;
}

export interface MonitorOptions {
  name: string;
  objects: SimObjects;
  /** The bucket's time (virtual, unskewed). */
  now: () => number;
  /** How far apart the processes' clocks may be (lease expiries are judged with this slack). */
  maxSkewMs: number;
  report: (guarantee: GuaranteeId, message: string) => void;
}

export class FormatMonitor implements ObjectObserver {
  readonly #o: MonitorOptions;
  /** Every record ever created, by seq (records are immutable; the collector deletes old ones). */
  readonly records = new Map<number, RecordObject & { createdAt: number }>();
  /** The state after each commit. */
  readonly #states = new Map<number, ShadowState>([[0, { seq: 0, time: 0, size: 0, blockSize: 0, map: new Map() }]]);
  /**
   * Record seqs created, then deleted (collected), with when: creating one again with a
   * request sent after that means a writer missed it; one sent before is a create-if-absent
   * PUT that landed late, which the format allows at or below the head's oldest (§8).
   */
  readonly #collected = new Map<number, number>();
  /** Checks made (for the statistics). */
  checks = 0;

  constructor(options: MonitorOptions) {
    this.#o = options;
  }

  /** The newest commit created. */
  get latest(): number {
    return this.records.size === 0 ? 0 : Math.max(...this.records.keys());
  }

  /** The head as it is on the store now. */
  head(): HeadObject | undefined {
    const bytes = this.#o.objects.peek(`${this.#o.name}/head`);
    if (!bytes) return undefined;
    try {
      return decodeHeadObject(bytes);
    } catch {
      return undefined; // reported when it was written
    }
  }

  /** The state after commit `seq`, as the records say (undefined for one never created). */
  state(seq: number): ShadowState | undefined {
    return this.#states.get(seq);
  }

  /** The newest commit whose record time is at or before `time` (0: none): the commit in force then. */
  commitInForceAt(time: number): number {
    let found = 0;
    for (const [seq, record] of this.records) if (record.time <= time && seq > found) found = seq;
    return found;
  }

  put(key: string, data: Uint8Array, condition: PutCondition | undefined, before: Uint8Array | undefined, issuedAt?: number): void {
    const parsed = parseKey(this.#o.name, key);
    if (!parsed) return;
    this.checks += 1;
    switch (parsed.kind) {
      case 'unknown':
        return this.#fail('keys', `a put of "${key}", which is none of the layout's keys`);
      case 'record':
        return this.#record(parsed.seq, data, condition, issuedAt);
      case 'checkpoint':
        return this.#checkpoint(parsed.seq, data, condition);
      case 'segment':
        return this.#segment(parsed.seq, parsed.segmentBlocks, parsed.segment, data);
      case 'head':
        return this.#head(data, condition, before);
      case 'lease':
        return this.#lease(data, condition, before);
      case 'block':
        return this.#block(key, parsed.index, parsed.seq, parsed.tag, data);
    }
  }

  deleted(key: string, _before: Uint8Array): void {
    const parsed = parseKey(this.#o.name, key);
    if (!parsed) return;
    this.checks += 1;
    const oldest = this.head()?.oldest ?? 0;
    switch (parsed.kind) {
      case 'record':
        this.#collected.set(parsed.seq, this.#o.now());
        if (parsed.seq > oldest) this.#fail('collection', `record ${parsed.seq} was deleted while the head keeps commits from ${oldest} on`);
        return;
      case 'checkpoint':
      case 'segment':
        if (parsed.seq >= oldest) this.#fail('collection', `checkpoint ${parsed.seq} (${key}) was deleted while the head keeps commits from ${oldest} on`);
        return;
      case 'block': {
        const record = this.records.get(parsed.seq);
        const named = record?.tag === parsed.tag && (record.blocks.includes(parsed.index) || record.inline.some(([index]) => index === parsed.index));
        if (named && parsed.seq > oldest) {
          this.#fail(
            'collection',
            `block ${parsed.index} of commit ${parsed.seq} was deleted while the head keeps commits from ${oldest} on (commit ${parsed.seq} needs it)`,
          );
        } else if (named) {
          const entry = this.#states.get(oldest)?.map.get(parsed.index);
          if (entry?.seq === parsed.seq && entry.tag === parsed.tag) {
            this.#fail('collection', `block ${parsed.index} of commit ${parsed.seq} was deleted, but the oldest kept commit ${oldest} still reads it`);
          }
        }
        return;
      }
      case 'head':
      case 'lease':
        return this.#fail('keys', `"${key}" was deleted (nothing in the format deletes it)`);
      case 'unknown':
        return;
    }
  }

  #record(seq: number, data: Uint8Array, condition: PutCondition | undefined, issuedAt: number | undefined): void {
    if (!(condition && 'ifNoneMatch' in condition)) this.#fail('conditions', `record ${seq} was put without ifNoneMatch "*"`);
    let record: RecordObject;
    try {
      record = decodeRecordObject(data);
    } catch (error) {
      return this.#fail('envelope', `record ${seq} does not decode: ${(error as Error).message}`);
    }
    if (record.seq !== seq) this.#fail('envelope', `record under log/${seq} says seq ${record.seq}`);
    if (this.records.has(seq)) {
      const collectedAt = this.#collected.get(seq);
      // A create-if-absent PUT sent before the collector freed the seq, landing after: the format allows it
      // at or below the head's oldest (readers never apply records there, and the next collection deletes it).
      const late = collectedAt !== undefined && issuedAt !== undefined && issuedAt < collectedAt && seq <= (this.head()?.oldest ?? 0);
      // The same record again (its tag is per attempt): a retry of a put whose first attempt landed and
      // was collected before the retry came. Nothing new: readers that meet it meet the same commit.
      const same = collectedAt !== undefined && this.records.get(seq)?.tag === record.tag && seq <= (this.head()?.oldest ?? 0);
      if (late || same) return;
      const again = collectedAt !== undefined ? ' after the collector deleted it' : '';
      this.#fail(
        collectedAt !== undefined ? 'grace' : 'conditions',
        `record ${seq} was created a second time${again} (tag ${this.records.get(seq)?.tag}, now ${record.tag})`,
      );
      return; // the shadow keeps the first: later checks would only repeat this finding
    }
    const previous = this.records.get(seq - 1);
    if (seq > 1 && !previous) this.#fail('contiguous', `record ${seq} was created before record ${seq - 1} ever existed`);
    if (previous && record.time < previous.time) this.#fail('recordTime', `record ${seq} has time ${record.time}, before record ${seq - 1}'s ${previous.time}`);
    const base = this.#states.get(seq - 1);
    if (base && base.seq > 0 && record.blockSize !== base.blockSize)
      this.#fail('envelope', `record ${seq} has block size ${record.blockSize}, the file ${base.blockSize}`);

    // The blocks it names exist now, whole and trimmed to the size.
    const count = blockCount(record.size, record.blockSize);
    const seen = new Set<number>();
    let bytes = 0;
    for (const index of record.blocks) {
      if (seen.has(index)) this.#fail('recordBlocks', `record ${seq} names block ${index} twice`);
      seen.add(index);
      if (index >= count) this.#fail('recordBlocks', `record ${seq} names block ${index}, past the end of a ${record.size}-byte file`);
      const object = this.#o.objects.peek(blockKeyOf(this.#o.name, index, seq, record.tag));
      if (!object) this.#fail('recordBlocks', `record ${seq} names block ${index}, whose object does not exist when the record is created`);
      else if (index < count && object.length !== blockLength(index, record.size, record.blockSize)) {
        this.#fail('recordBlocks', `record ${seq}: block ${index} has ${object.length} bytes, expected ${blockLength(index, record.size, record.blockSize)}`);
      }
      if (object) bytes += object.length;
      const crc = record.crcs.get(index);
      if (object && crc !== undefined && crc32c(object) !== crc)
        this.#fail('recordBlocks', `record ${seq}: block ${index}'s object does not match the record's checksum`);
    }
    let inlineBytes = 0;
    for (const [index, payload] of record.inline) {
      if (seen.has(index)) this.#fail('recordBlocks', `record ${seq} names block ${index} twice`);
      seen.add(index);
      if (index >= count) this.#fail('recordBlocks', `record ${seq} carries block ${index} inline, past the end of a ${record.size}-byte file`);
      else if (payload.length !== blockLength(index, record.size, record.blockSize)) {
        this.#fail(
          'recordBlocks',
          `record ${seq}: inline block ${index} has ${payload.length} bytes, expected ${blockLength(index, record.size, record.blockSize)}`,
        );
      }
      inlineBytes += payload.length;
    }
    if (record.inline.length > 0 && record.blocks.length > 0) this.#fail('recordBlocks', `record ${seq} mixes inline blocks and block objects`);
    if (inlineBytes > DEFAULT_INLINE_LIMIT)
      this.#fail('recordBlocks', `record ${seq} carries ${inlineBytes} bytes inline, over the ${DEFAULT_INLINE_LIMIT}-byte limit`);
    if (record.blocks.length > 0 && bytes <= DEFAULT_INLINE_LIMIT)
      this.#fail('recordBlocks', `record ${seq} uploaded ${bytes} bytes as block objects, which fit inline`);

    this.records.set(seq, { ...record, createdAt: this.#o.now() });
    if (base) {
      const map = new Map([...base.map].filter(([index]) => index < count));
      for (const index of record.blocks) map.set(index, { seq, tag: record.tag });
      for (const [index] of record.inline) map.set(index, { seq, tag: record.tag });
      this.#states.set(seq, { seq, time: record.time, size: record.size, blockSize: record.blockSize, map });
    }
  }

  #checkpoint(seq: number, data: Uint8Array, condition: PutCondition | undefined): void {
    if (!(condition && 'ifNoneMatch' in condition)) this.#fail('conditions', `checkpoint ${seq} was put without ifNoneMatch "*"`);
    let checkpoint;
    try {
      checkpoint = decodeCheckpointObject(data);
    } catch (error) {
      return this.#fail('envelope', `checkpoint ${seq} does not decode: ${(error as Error).message}`);
    }
    if (checkpoint.seq !== seq) this.#fail('envelope', `checkpoint under checkpoint/${seq} says seq ${checkpoint.seq}`);
    const state = this.#states.get(seq);
    if (!state) return this.#fail('checkpoint', `checkpoint ${seq} was written, but record ${seq} was never created`);
    const differences: string[] = [];
    if (checkpoint.size !== state.size) differences.push(`size ${checkpoint.size} ≠ ${state.size}`);
    if (checkpoint.blockSize !== state.blockSize) differences.push(`block size ${checkpoint.blockSize} ≠ ${state.blockSize}`);
    if (checkpoint.time !== state.time) differences.push(`time ${checkpoint.time} ≠ ${state.time}`);
    // A segmented checkpoint is written after its segments: every one must be there, right, now.
    let map = checkpoint.map;
    if (map === undefined) {
      map = new Map();
      const segmentBlocks = checkpoint.segmentBlocks as number;
      const segments = Math.ceil(blockCount(state.size, state.blockSize) / segmentBlocks);
      for (let segment = 0; segment < segments; segment++) {
        const bytes = this.#o.objects.peek(segmentKeyOf(this.#o.name, seq, segmentBlocks, segment));
        if (!bytes) {
          differences.push(`segment ${segment} of ${segmentBlocks} blocks does not exist`);
          continue;
        }
        try {
          for (const [index, entry] of decodeSegmentObject(bytes).map) map.set(index, entry);
        } catch (error) {
          differences.push(`segment ${segment} does not decode: ${(error as Error).message}`);
        }
      }
    }
    differences.push(...this.#mapDifferences(map, state.map, 0, Number.POSITIVE_INFINITY));
    // A segmented root's copies of its hot blocks' entries: each exactly what its segment says, checksum included.
    for (const [index, hot] of checkpoint.hot) {
      const entry = map.get(index);
      if (entry?.seq !== hot.seq || entry.tag !== hot.tag || entry.crc !== hot.crc)
        differences.push(
          `hot block ${index}: ${hot.seq}.${hot.tag} (CRC ${hot.crc}) ≠ ${entry ? `${entry.seq}.${entry.tag} (CRC ${entry.crc})` : 'missing'} in its segment`,
        );
    }
    if (differences.length > 0) this.#fail('checkpoint', `checkpoint ${seq} differs from the state after commit ${seq}: ${differences.slice(0, 5).join('; ')}`);
    // A checkpoint below the head's oldest is garbage the format allows (a PUT that landed late, or a
    // collection that another one overtook): never listed (the head check sees to that), deleted by the
    // next collection, its blocks possibly gone already. What it names is not checked.
    if (seq < (this.head()?.oldest ?? 0)) return;
    for (const [index, entry] of map) {
      if (!this.#o.objects.has(blockKeyOf(this.#o.name, index, entry.seq, entry.tag))) {
        this.#fail('checkpoint', `checkpoint ${seq} names block ${index} of commit ${entry.seq}, whose object does not exist`);
        break;
      }
      // Version 2: the checksum is the one the writing commit's record has (or, for a block that came inline, its bytes').
      const writer = this.records.get(entry.seq);
      const inline = writer?.inline.find(([i]) => i === index)?.[1];
      const expected = inline ? crc32c(inline) : writer?.crcs.get(index);
      if (entry.crc !== undefined && expected !== undefined && entry.crc !== expected) {
        this.#fail('checkpoint', `checkpoint ${seq}: block ${index}'s checksum differs from commit ${entry.seq}'s`);
        break;
      }
    }
  }

  /**
   * A segment of checkpoint `seq`: written before its checkpoint, unconditionally (the
   * same bytes whoever writes it), holding exactly the state's entries in its range.
   */
  #segment(seq: number, segmentBlocks: number, segment: number, data: Uint8Array): void {
    let decoded;
    try {
      decoded = decodeSegmentObject(data);
    } catch (error) {
      return this.#fail('envelope', `segment ${segment} of checkpoint ${seq} does not decode: ${(error as Error).message}`);
    }
    const state = this.#states.get(seq);
    if (!state) return this.#fail('checkpoint', `a segment of checkpoint ${seq} was written, but record ${seq} was never created`);
    const first = segment * segmentBlocks;
    const count = Math.min(segmentBlocks, blockCount(state.size, state.blockSize) - first);
    const differences: string[] = [];
    if (decoded.checkpoint !== seq || decoded.segment !== segment) differences.push(`it says segment ${decoded.segment} of checkpoint ${decoded.checkpoint}`);
    if (count < 1) differences.push(`the file has no block ${first}`);
    if (decoded.first !== first || decoded.count !== count) differences.push(`it covers ${decoded.first} + ${decoded.count}, not ${first} + ${count}`);
    differences.push(...this.#mapDifferences(decoded.map, state.map, first, first + segmentBlocks));
    if (differences.length > 0)
      this.#fail('checkpoint', `segment ${segment} of checkpoint ${seq} differs from the state after commit ${seq}: ${differences.slice(0, 5).join('; ')}`);
  }

  /** How `map` differs from the state's `expected` over blocks `first` … `end − 1`. */
  #mapDifferences(map: MapEntries, expected: ShadowState['map'], first: number, end: number): string[] {
    const differences: string[] = [];
    for (const [index, entry] of expected) {
      if (index < first || index >= end) continue;
      const got = map.get(index);
      if (got?.seq !== entry.seq || got.tag !== entry.tag)
        differences.push(`block ${index}: ${got ? `${got.seq}.${got.tag}` : 'missing'} ≠ ${entry.seq}.${entry.tag}`);
    }
    for (const index of map.keys()) if (!expected.has(index)) differences.push(`block ${index} should not be there`);
    return differences;
  }

  #head(data: Uint8Array, condition: PutCondition | undefined, before: Uint8Array | undefined): void {
    if (!condition) this.#fail('conditions', 'the head was put unconditionally');
    else if (before === undefined && !('ifNoneMatch' in condition)) this.#fail('conditions', 'the head was created without ifNoneMatch');
    let head: HeadObject;
    try {
      head = decodeHeadObject(data);
    } catch (error) {
      return this.#fail('envelope', `the head does not decode: ${(error as Error).message}`);
    }
    const { checkpoints } = head;
    for (let i = 1; i < checkpoints.length; i++) {
      if ((checkpoints[i] as number) <= (checkpoints[i - 1] as number))
        this.#fail('head', `the head's checkpoints are not ascending: ${checkpoints.join(',')}`);
    }
    if (checkpoints.length > 0 && head.checkpoint !== Math.max(...checkpoints))
      this.#fail('head', `the head names checkpoint ${head.checkpoint}, not its newest listed (${checkpoints.join(',')})`);
    if (head.oldest > 0 && !checkpoints.includes(head.oldest))
      this.#fail('head', `the head keeps commits from ${head.oldest} on but does not list checkpoint ${head.oldest}`);
    if (checkpoints.some((seq) => seq < head.oldest))
      this.#fail('head', `the head lists checkpoints before its oldest ${head.oldest}: ${checkpoints.join(',')}`);
    for (const seq of checkpoints) {
      if (!this.#o.objects.has(checkpointKeyOf(this.#o.name, seq))) this.#fail('head', `the head lists checkpoint ${seq}, which does not exist`);
    }
    if (before) {
      let old: HeadObject | undefined;
      try {
        old = decodeHeadObject(before);
      } catch {
        old = undefined;
      }
      if (old) {
        if (head.checkpoint < old.checkpoint) this.#fail('head', `the head went back: checkpoint ${old.checkpoint} → ${head.checkpoint}`);
        if (head.oldest < old.oldest) this.#fail('head', `the head went back: oldest ${old.oldest} → ${head.oldest}`);
        const lost = old.checkpoints.filter((seq) => seq >= head.oldest && !checkpoints.includes(seq));
        if (lost.length > 0) this.#fail('head', `a head update lost checkpoints ${lost.join(',')} (listed before, still kept)`);
      }
    }
  }

  #lease(data: Uint8Array, condition: PutCondition | undefined, before: Uint8Array | undefined): void {
    if (!condition) this.#fail('conditions', 'the lease was put unconditionally');
    let lease;
    try {
      lease = decodeLeaseObject(data);
    } catch (error) {
      return this.#fail('envelope', `the lease does not decode: ${(error as Error).message}`);
    }
    if (!before) return;
    let old;
    try {
      old = decodeLeaseObject(before);
    } catch {
      return;
    }
    const now = this.#o.now();
    // The holder judges expiry by its clock: allow the skew between any two processes.
    if (old.owner !== lease.owner && old.expires > now + 2 * this.#o.maxSkewMs && old.expires - now <= 11 * 60_000) {
      this.#fail('lease', `the lease of ${old.owner} (valid ${old.expires - now} ms more) was taken over by ${lease.owner}`);
    }
  }

  #block(key: string, index: number, seq: number, blockTag: string, data: Uint8Array): void {
    const record = this.records.get(seq);
    if (record?.tag !== blockTag) return; // not (yet) named: a commit in progress, or a loser's orphan
    const inline = record.inline.find(([i]) => i === index);
    if (inline) {
      if (!equal(inline[1], data)) this.#fail('keys', `block ${index} of commit ${seq} was folded from its record with other bytes`);
    } else if (record.blocks.includes(index)) {
      // It was checked to exist when the record was created; a rewrite must carry the same bytes.
      const previous = this.#o.objects.previous(key);
      if (previous && !equal(previous, data)) this.#fail('keys', `block ${index} of commit ${seq} was rewritten with other bytes after its record named it`);
    }
  }

  #fail(guarantee: GuaranteeId, message: string): void {
    this.#o.report(guarantee, message);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
