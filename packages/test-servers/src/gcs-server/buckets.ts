import { createHash } from 'node:crypto';
import { crc32cBase64 } from './crc32c.js';
import { GcsHttpError, conditionNotMet, invalid, noSuchBucket, noSuchObject } from './gcs-errors.js';

/** One object: only its live version (no object versioning). */
export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  readonly data: Buffer;
  /** Unique across the whole server, increasing: another object's generation never matches. */
  readonly generation: bigint;
  /** 1 when written, +1 on every metadata update (PATCH). */
  metageneration: number;
  contentType: string;
  metadata: Record<string, string> | undefined;
  readonly md5Hash: string;
  readonly crc32c: string;
  readonly timeCreated: Date;
  updated: Date;
}

interface Bucket {
  readonly name: string;
  readonly timeCreated: Date;
  readonly objects: Map<string, StoredObject>;
}

/** The four precondition query parameters of the JSON API, as sent (strings). */
export interface Preconditions {
  ifGenerationMatch?: string | null;
  ifGenerationNotMatch?: string | null;
  ifMetagenerationMatch?: string | null;
  ifMetagenerationNotMatch?: string | null;
}

export interface ListQuery {
  prefix: string;
  delimiter: string | undefined;
  startOffset: string | undefined;
  endOffset: string | undefined;
  /** The last name of the previous page (decoded from pageToken), exclusive. */
  after: string | undefined;
  maxResults: number;
}

export interface ListPage {
  items: StoredObject[];
  prefixes: string[];
  /** The last name returned, when there are more names after it. */
  nextAfter: string | undefined;
}

/** GCS orders names by their UTF-8 bytes (so by code point, not by UTF-16 unit). */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The server's state: buckets of objects, in memory. Every check and change of one
 * request happens in one synchronous step, so conditional writes are atomic against
 * each other without locks (Node runs one handler at a time).
 */
export class Buckets {
  readonly #buckets = new Map<string, Bucket>();
  #lastGeneration = 0n;

  /** Generations look like GCS's (microseconds since the epoch) and strictly increase. */
  #nextGeneration(): bigint {
    const now = BigInt(Date.now()) * 1000n;
    this.#lastGeneration = now > this.#lastGeneration ? now : this.#lastGeneration + 1n;
    return this.#lastGeneration;
  }

  createBucket(name: string): Bucket {
    if (!/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(name)) throw invalid(`Invalid bucket name: '${name}'`);
    if (this.#buckets.has(name)) {
      throw new GcsHttpError(409, 'conflict', 'Your previous request to create the named bucket succeeded and you already own it.');
    }
    const bucket: Bucket = { name, timeCreated: new Date(), objects: new Map() };
    this.#buckets.set(name, bucket);
    return bucket;
  }

  all(): Bucket[] {
    return [...this.#buckets.values()].sort((a, b) => compareNames(a.name, b.name));
  }

  bucket(name: string): Bucket {
    const bucket = this.#buckets.get(name);
    if (!bucket) throw noSuchBucket(name);
    return bucket;
  }

  deleteBucket(name: string): void {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0) throw new GcsHttpError(409, 'conflict', 'The bucket you tried to delete is not empty.');
    this.#buckets.delete(name);
  }

  /** The live object, checked against the preconditions; 404 when there is none. */
  getObject(bucketName: string, name: string, conditions: Preconditions): StoredObject {
    const object = this.bucket(bucketName).objects.get(name);
    if (!object) throw noSuchObject(bucketName, name);
    checkPreconditions(object, conditions);
    return object;
  }

  /** Writes a whole object if the preconditions hold against what is there now (412 otherwise). */
  putObject(
    bucketName: string,
    name: string,
    data: Buffer,
    options: { contentType: string; metadata?: Record<string, string> | undefined; conditions: Preconditions },
  ): StoredObject {
    const bucket = this.bucket(bucketName);
    checkName(name);
    checkPreconditions(bucket.objects.get(name), options.conditions);
    const now = new Date();
    const object: StoredObject = {
      bucket: bucketName,
      name,
      data,
      generation: this.#nextGeneration(),
      metageneration: 1,
      contentType: options.contentType,
      metadata: options.metadata,
      md5Hash: createHash('md5').update(data).digest('base64'),
      crc32c: crc32cBase64(data),
      timeCreated: now,
      updated: now,
    };
    bucket.objects.set(name, object);
    return object;
  }

  /** A metadata update (PATCH): content type and custom metadata; bumps the metageneration. */
  patchObject(bucketName: string, name: string, patch: { contentType?: unknown; metadata?: unknown }, conditions: Preconditions): StoredObject {
    const object = this.getObject(bucketName, name, conditions);
    if (typeof patch.contentType === 'string') object.contentType = patch.contentType;
    if (patch.metadata === null) object.metadata = undefined;
    else if (typeof patch.metadata === 'object' && patch.metadata) {
      // A key set to null removes it, as in GCS.
      const merged: Record<string, string> = { ...object.metadata };
      for (const [key, value] of Object.entries(patch.metadata as Record<string, unknown>)) {
        if (value === null) delete merged[key];
        else merged[key] = String(value);
      }
      object.metadata = merged;
    }
    object.metageneration += 1;
    object.updated = new Date();
    return object;
  }

  deleteObject(bucketName: string, name: string, conditions: Preconditions): void {
    const bucket = this.bucket(bucketName);
    this.getObject(bucketName, name, conditions);
    bucket.objects.delete(name);
  }

  /**
   * One page of a listing, in name order: names with the prefix, in
   * [startOffset, endOffset), after the previous page's last name; with a delimiter,
   * names that go on past it are rolled up into `prefixes` (each once).
   */
  list(bucketName: string, query: ListQuery): ListPage {
    const bucket = this.bucket(bucketName);
    // Sorting per page is O(n log n) per request; fine for the thousands of objects tests write.
    const names = [...bucket.objects.keys()]
      .filter(
        (name) =>
          name.startsWith(query.prefix) &&
          (query.startOffset === undefined || compareNames(name, query.startOffset) >= 0) &&
          (query.endOffset === undefined || compareNames(name, query.endOffset) < 0) &&
          (query.after === undefined || compareNames(name, query.after) > 0),
      )
      .sort(compareNames);
    const items: StoredObject[] = [];
    const prefixes = new Set<string>();
    let last: string | undefined;
    let index = 0;
    while (index < names.length && items.length + prefixes.size < query.maxResults) {
      const name = names[index] as string;
      const cut = query.delimiter ? name.indexOf(query.delimiter, query.prefix.length) : -1;
      if (cut >= 0) {
        const rolledUp = name.slice(0, cut + (query.delimiter as string).length);
        prefixes.add(rolledUp);
        // Skip every name under this rolled-up prefix: they all give the same entry.
        while (index < names.length && (names[index] as string).startsWith(rolledUp)) last = names[index++];
      } else {
        items.push(bucket.objects.get(name) as StoredObject);
        last = name;
        index += 1;
      }
    }
    return { items, prefixes: [...prefixes], nextAfter: index < names.length ? last : undefined };
  }
}

function checkName(name: string): void {
  if (name.length === 0 || Buffer.byteLength(name) > 1024) throw invalid(`Invalid object name: '${name}' (1 to 1024 bytes of UTF-8)`);
  if (name === '.' || name === '..' || /[\r\n]/.test(name)) throw invalid(`Invalid object name: '${name}'`);
}

/** A precondition value: a decimal integer (generations exceed 2^53, hence bigint). */
function parseCondition(value: string | null | undefined, what: string): bigint | undefined {
  if (value === undefined || value === null) return undefined;
  if (!/^-?\d+$/.test(value)) throw invalid(`Invalid argument for ${what}: '${value}'`);
  return BigInt(value);
}

/**
 * GCS's rules: ifGenerationMatch=0 means "no live object"; any other generation must
 * be the live object's. The metageneration conditions need a live object. A failed
 * condition is 412 conditionNotMet.
 */
function checkPreconditions(object: StoredObject | undefined, conditions: Preconditions): void {
  const generationMatch = parseCondition(conditions.ifGenerationMatch, 'ifGenerationMatch');
  const generationNotMatch = parseCondition(conditions.ifGenerationNotMatch, 'ifGenerationNotMatch');
  const metagenerationMatch = parseCondition(conditions.ifMetagenerationMatch, 'ifMetagenerationMatch');
  const metagenerationNotMatch = parseCondition(conditions.ifMetagenerationNotMatch, 'ifMetagenerationNotMatch');
  const generation = object?.generation ?? 0n;
  if (generationMatch !== undefined && generationMatch !== generation) throw conditionNotMet();
  if (generationNotMatch !== undefined && generationNotMatch === generation) throw conditionNotMet();
  if (metagenerationMatch !== undefined && (!object || BigInt(object.metageneration) !== metagenerationMatch)) throw conditionNotMet();
  if (metagenerationNotMatch !== undefined && object && BigInt(object.metageneration) === metagenerationNotMatch) throw conditionNotMet();
}
