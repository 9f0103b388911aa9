import { parseDatabaseUrl, type DatabaseUrl } from './database-url.js';
import { openStore, type OpenedStore, type StoreOptions } from './open-store.js';

/** A database URL opened as a store and a name. */
export interface Target extends OpenedStore {
  url: DatabaseUrl;
}

/**
 * The stores one command opened, closed together when it ends (an S3 client keeps
 * sockets that would hold the process open).
 */
export class Session {
  readonly #opened: OpenedStore[] = [];

  constructor(readonly options: StoreOptions = {}) {}

  async open(text: string): Promise<Target> {
    const url = parseDatabaseUrl(text);
    const opened = await openStore(url, this.options);
    this.#opened.push(opened);
    return { ...opened, url };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#opened.map((opened) => opened.close()));
    this.#opened.length = 0;
  }
}
