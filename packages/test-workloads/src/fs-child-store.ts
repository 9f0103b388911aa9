import { FsStore } from '@blockvfs/store-fs';

/** The FsStore a writer child process opens (see processes.ts, fsChildStore). */
export function createStore(options: { root: string }): FsStore {
  return new FsStore({ root: options.root });
}
