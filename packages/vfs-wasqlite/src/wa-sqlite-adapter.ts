/**
 * The only file that imports @journeyapps/wa-sqlite. Everything else sees the narrow
 * interfaces below, so another build or fork of wa-sqlite can be swapped in here.
 *
 * Loading: in Node the Emscripten loader would try `fetch` for the .wasm file and
 * fail, so the bytes are read with node:fs and passed as `wasmBinary`.
 *
 * Importing the package sets `BigInt.prototype.toJSON` (to a decimal string) when it
 * is not already defined: harmless, but visible to the whole process.
 */
/// <reference path="./wa-sqlite-modules.d.ts" />
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FacadeVFS as FacadeVFSImpl } from '@journeyapps/wa-sqlite/src/FacadeVFS.js';
import { Factory } from '@journeyapps/wa-sqlite/src/sqlite-api.js';
import { BlockVfsError } from '@blockvfs/core';
import { callDirectly, exportKeys } from './raw-exports.js';
import { suspensionsOf, type Suspensions } from './suspensions.js';
import { speedUpVfsGlue } from './vfs-glue.js';

const SOURCE = '@blockvfs/vfs-wasqlite';

/** Which WebAssembly build runs SQLite. Both suspend SQLite while a VFS method awaits. */
export type Build = 'asyncify' | 'jspi';
export const BUILDS: readonly Build[] = ['asyncify', 'jspi'];

/** The Emscripten module: only the members this package uses. */
export interface WasmModule {
  readonly HEAPU8: Uint8Array;
  UTF8ToString(pointer: number): string;
  getTempRet0(): number;
  ccall(name: string, returnType: 'number' | 'string' | null, argTypes: string[], args: unknown[]): unknown;
  deleteCallback(key: number): void;
  /** The JavaScript object (a VFS) or function registered under `key` for calls from SQLite. */
  getCallback(key: number): unknown;
  /** Asyncify's entry for an async import (null in the JSPI build). */
  handleAsync: ((start: () => { then(onFulfilled: (value: unknown) => unknown): unknown }) => unknown) | null;
  _sqlite3_malloc(bytes: number): number;
  _sqlite3_free(pointer: number): void;
  _sqlite3_randomness(bytes: number, pointer: number): void;
  _sqlite3_extended_result_codes(db: number, on: number): number;
  _sqlite3_last_insert_rowid(db: number): number;
  _sqlite3_vfs_unregister(vfs: number): number;
  _sqlite3_bind_zeroblob(stmt: number, index: number, length: number): number;
  _sqlite3_bind_parameter_count(stmt: number): number;
  _sqlite3_clear_bindings(stmt: number): number;
  _sqlite3_bind_int(stmt: number, index: number, value: number): number;
  _sqlite3_bind_double(stmt: number, index: number, value: number): number;
  _sqlite3_bind_null(stmt: number, index: number): number;
  _sqlite3_bind_text(stmt: number, index: number, pointer: number, bytes: number, destructor: number): number;
  _sqlite3_changes(db: number): number;
  _sqlite3_get_autocommit(db: number): number;
  _sqlite3_db_handle(stmt: number): number;
  _sqlite3_step(stmt: number): number;
  _sqlite3_reset(stmt: number): number;
  _sqlite3_extended_errcode(db: number): number;
  _sqlite3_stmt_status(stmt: number, op: number, reset: number): number;
  _sqlite3_column_count(stmt: number): number;
  _sqlite3_column_name(stmt: number, index: number): number;
  _sqlite3_column_type(stmt: number, index: number): number;
  /** The low 32 bits (signed); the high ones are then in getTempRet0(). */
  _sqlite3_column_int64(stmt: number, index: number): number;
  _sqlite3_column_double(stmt: number, index: number): number;
  _sqlite3_column_text(stmt: number, index: number): number;
  _sqlite3_column_blob(stmt: number, index: number): number;
  _sqlite3_column_bytes(stmt: number, index: number): number;
}

/**
 * The subset of wa-sqlite's JavaScript API (`Factory(module)`) used here. Calls that
 * may do I/O are async (open_v2, close, statements, step, reset, finalize); the rest
 * touch only memory. Failing calls throw an error with a numeric `code`.
 */
export interface SqliteApi {
  open_v2(filename: string, flags: number, vfsName: string): Promise<number>;
  close(db: number): Promise<number>;
  /** Prepares `sql` one statement at a time; with `unscoped` the caller finalises each. */
  statements(db: number, sql: string, options: { unscoped: boolean }): AsyncGenerator<number, void, unknown>;
  step(stmt: number): Promise<number>;
  finalize(stmt: number): Promise<number>;
  reset(stmt: number): Promise<number>;
  changes(db: number): number;
  get_autocommit(db: number): number;
  bind_parameter_count(stmt: number): number;
  bind_parameter_name(stmt: number, index: number): string | null;
  bind_int(stmt: number, index: number, value: number): number;
  bind_int64(stmt: number, index: number, value: bigint): number;
  bind_double(stmt: number, index: number, value: number): number;
  bind_text(stmt: number, index: number, value: string): number;
  bind_blob(stmt: number, index: number, value: Uint8Array): number;
  bind_null(stmt: number, index: number): number;
  column_count(stmt: number): number;
  column_name(stmt: number, index: number): string;
  column_type(stmt: number, index: number): number;
  column_int64(stmt: number, index: number): bigint;
  column_double(stmt: number, index: number): number;
  column_text(stmt: number, index: number): string;
  /** A view into wasm memory, valid until the next call: copy it. */
  column_blob(stmt: number, index: number): Uint8Array;
  vfs_register(vfs: FacadeVfsBase, makeDefault: boolean): number;
  libversion(): string;
}

/**
 * wa-sqlite's FacadeVFS: turns SQLite's pointer-level xMethods into j-methods with
 * JavaScript arguments. A j-method counts as asynchronous only if it is a native
 * `async function` (checked once, at registration); buffers and out-pointers are
 * proxies over wasm memory (`Uint8Array`- and `DataView`-like), valid only during the call.
 * An async method may return a `settled()` thenable when it has its answer at once.
 */
export interface FacadeVfsBase {
  readonly name: string;
  mxPathname: number;
  close(): void | PromiseLike<void>;
  isReady(): boolean | PromiseLike<boolean>;
  hasAsyncMethod(methodName: string): boolean;
  /** The x-methods a subclass overrides at the pointer level (to skip the proxies where they cost more than the call). */
  xAccess(pVfs: number, zName: number, flags: number, pResOut: number): number | PromiseLike<number>;
  xFileSize(fileId: number, pSize: number): number | PromiseLike<number>;
  xRead(fileId: number, pData: number, length: number, offsetLow: number, offsetHigh: number): number | PromiseLike<number>;
  jOpen(filename: string | null, fileId: number, flags: number, pOutFlags: DataView): number | PromiseLike<number>;
  jDelete(filename: string, syncDir: number): number | PromiseLike<number>;
  jAccess(filename: string, flags: number, pResOut: DataView): number | PromiseLike<number>;
  jFullPathname(filename: string, zOut: Uint8Array): number | PromiseLike<number>;
  jGetLastError(zBuf: Uint8Array): number | PromiseLike<number>;
  jClose(fileId: number): number | PromiseLike<number>;
  jRead(fileId: number, pData: Uint8Array, offset: number): number | PromiseLike<number>;
  jWrite(fileId: number, pData: Uint8Array, offset: number): number | PromiseLike<number>;
  jTruncate(fileId: number, size: number): number | PromiseLike<number>;
  jSync(fileId: number, flags: number): number | PromiseLike<number>;
  jFileSize(fileId: number, pSize: DataView): number | PromiseLike<number>;
  jLock(fileId: number, lockType: number): number | PromiseLike<number>;
  jUnlock(fileId: number, lockType: number): number | PromiseLike<number>;
  jCheckReservedLock(fileId: number, pResOut: DataView): number | PromiseLike<number>;
  jFileControl(fileId: number, op: number, pArg: DataView): number | PromiseLike<number>;
  jSectorSize(fileId: number): number | PromiseLike<number>;
  jDeviceCharacteristics(fileId: number): number | PromiseLike<number>;
}

export type FacadeVfsConstructor = abstract new (name: string, module: WasmModule) => FacadeVfsBase;

/** The base class to subclass for a VFS. */
export const FacadeVFS = FacadeVFSImpl as FacadeVfsConstructor;

/** A loaded SQLite module and its API. */
export interface WaSqlite {
  readonly build: Build;
  readonly module: WasmModule;
  readonly api: SqliteApi;
  /** Registers `vfs` under `vfs.name` (not as the default VFS). */
  registerVfs(vfs: FacadeVfsBase): void;
  /** Removes a VFS registered by `registerVfs`, so that it (and the store it holds) can be collected. */
  unregisterVfs(name: string): void;
  /** The full 64-bit rowid of the last insert on `db` as its signed 32-bit halves (the wrapper's own function keeps only the low ones). */
  lastInsertRowid(db: number): { low: number; high: number };
  /** Turns extended result codes on for `db` (the wrapper has no function for it). */
  enableExtendedResultCodes(db: number): void;
  /**
   * Binds text: the result code (0 for done). Encoded straight into a scratch buffer in
   * wasm memory that SQLite copies from, instead of the wrapper's new array and
   * allocation per value.
   */
  bindText(stmt: number, index: number, value: string): number;
  /** Binds a zero-length blob (the wrapper's bind_blob binds NULL for one: sqlite3_malloc(0) is NULL). */
  bindEmptyBlob(stmt: number, index: number): number;
  /**
   * sqlite3_step: SQLITE_ROW or SQLITE_DONE, or throws SQLite's error (an Error with a
   * numeric `code`, as the API's). With the Asyncify build the answer is a plain number
   * when no VFS method suspended SQLite (every page in memory), so a loop over rows
   * need not wait a tick per row; otherwise, and always with JSPI, a promise.
   * Only BlockVFS may serve the module's databases (it reports its suspensions).
   */
  step(stmt: number): number | Promise<number>;
  /** sqlite3_reset, the same way: throws the error of the statement's last step, if it failed. */
  reset(stmt: number): number | Promise<number>;
}

/** The numeric SQLite result code carried by an error the wa-sqlite API threw, if it is one. */
export function waSqliteErrorCode(error: unknown): number | undefined {
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
}

/** Whether this Node can run the JSPI build (WebAssembly JavaScript Promise Integration). */
export function jspiSupported(): boolean {
  // (No DOM lib in this project's TypeScript settings, hence the lookup through globalThis.)
  const wasm = (globalThis as { WebAssembly?: { Suspending?: unknown } }).WebAssembly;
  return typeof wasm?.Suspending === 'function';
}

/** The slice of the WebAssembly API used here (the project's lib has no DOM types), with its objects left opaque. */
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<object>;
  Instance: new (module: object, imports: object) => object;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** Emscripten's hook for instantiating the wasm itself: here, from a module compiled once per build. */
type InstantiateWasm = (imports: object, done: (instance: object, module: object) => void) => object;
type ModuleFactory = (options: { instantiateWasm: InstantiateWasm }) => Promise<WasmModule>;

/** The build's code, loaded and compiled once per process: every module instantiates it anew (its own memory), with no compile. */
const compiled = new Map<Build, Promise<CompiledBuild>>();

interface CompiledBuild {
  factory: ModuleFactory;
  wasm: object;
  /** The glue's keys of the wasm exports, by function name (see raw-exports.ts): Asyncify only. */
  exportKeys: ReadonlyMap<string, string>;
}

function compiledBuild(build: Build): Promise<CompiledBuild> {
  let loading = compiled.get(build);
  if (!loading) {
    loading = (async () => {
      const file = build === 'jspi' ? 'wa-sqlite-jspi' : 'wa-sqlite-async';
      const packageDir = dirname(createRequire(import.meta.url).resolve('@journeyapps/wa-sqlite/package.json'));
      const [factoryModule, wasmBinary, glue] = await Promise.all([
        build === 'jspi' ? import('@journeyapps/wa-sqlite/dist/wa-sqlite-jspi.mjs') : import('@journeyapps/wa-sqlite/dist/wa-sqlite-async.mjs'),
        readFile(join(packageDir, 'dist', `${file}.wasm`)),
        // The glue's text, for its export keys (raw-exports.ts); unreadable, the functions only stay wrapped.
        build === 'asyncify' ? readFile(join(packageDir, 'dist', `${file}.mjs`), 'utf8').catch(() => '') : '',
      ]);
      const wasm = await Wasm.compile(new Uint8Array(wasmBinary.buffer, wasmBinary.byteOffset, wasmBinary.byteLength));
      return { factory: factoryModule.default as ModuleFactory, wasm, exportKeys: exportKeys(glue) };
    })();
    compiled.set(build, loading);
    loading.catch(() => compiled.delete(build)); // let a later call try again
  }
  return loading;
}

/**
 * Loads a fresh SQLite module of the given build: its own memory and state, independent
 * of every other module (calls into different modules may run side by side). The code is
 * compiled once per process; each module after the first costs an instantiation only.
 */
export async function loadWaSqlite(build: Build = 'asyncify'): Promise<WaSqlite> {
  if (!BUILDS.includes(build)) {
    throw new BlockVfsError('invalid', `unknown wa-sqlite build "${String(build)}"; known builds: ${BUILDS.join(', ')}`, { source: SOURCE });
  }
  if (build === 'jspi' && !jspiSupported()) {
    throw new BlockVfsError(
      'invalid',
      `the JSPI build needs WebAssembly.Suspending, which Node ${process.versions.node} lacks ` +
        '(it is on by default from Node 24.20, behind --experimental-wasm-jspi from 23.11); use build "asyncify"',
      { source: SOURCE },
    );
  }
  const { factory, wasm, exportKeys: keys } = await compiledBuild(build);
  let loaded: WasmModule | undefined;
  let exports: Record<string, unknown> = {};
  const module = await factory({
    instantiateWasm(imports, done) {
      if (build === 'asyncify') speedUpVfsGlue(imports, () => loaded);
      // Synchronously where the platform allows it (Node does; a browser's main thread may
      // not): a module then comes up within promise callbacks alone, with no wait on a
      // background thread, which keeps deterministic tests deterministic.
      let instance: object | undefined;
      try {
        instance = new Wasm.Instance(wasm, imports);
      } catch {
        instance = undefined;
      }
      if (instance) {
        exports = (instance as { exports: Record<string, unknown> }).exports;
        done(instance, wasm);
      } else {
        void Wasm.instantiate(wasm, imports).then((async) => {
          exports = (async as { exports: Record<string, unknown> }).exports;
          done(async, wasm);
        });
      }
      return {}; // Emscripten's convention: the exports come through `done`
    },
  });
  loaded = module;
  if (build === 'asyncify') callDirectly(module, exports, keys);
  // SQLite seeds its random number generator on first use (from the platform's source, through
  // the VFS): done now, so that a module drawn from the pool and a new one behave alike.
  const byte = module._sqlite3_malloc(1);
  module._sqlite3_randomness(1, byte);
  module._sqlite3_free(byte);
  const api = (Factory as (module: WasmModule) => SqliteApi)(module);
  const scratch = new TextScratch(module);
  const suspensions = suspensionsOf(module);

  return {
    build,
    module,
    api,
    registerVfs(vfs) {
      api.vfs_register(vfs, false);
    },
    unregisterVfs(name) {
      const pointer = module.ccall('sqlite3_vfs_find', 'number', ['string'], [name]) as number;
      if (!pointer) return;
      module._sqlite3_vfs_unregister(pointer);
      // The glue keys its JavaScript callbacks by the sqlite3_vfs pointer.
      module.deleteCallback(pointer);
    },
    lastInsertRowid(db) {
      // 64-bit results come back split: the low 32 bits returned, the high ones in tempRet0.
      const low = module._sqlite3_last_insert_rowid(db);
      return { low, high: module.getTempRet0() };
    },
    enableExtendedResultCodes(db) {
      module._sqlite3_extended_result_codes(db, 1);
    },
    bindText(stmt, index, value) {
      return scratch.bind(stmt, index, value);
    },
    bindEmptyBlob(stmt, index) {
      return module._sqlite3_bind_zeroblob(stmt, index, 0);
    },
    step: build === 'asyncify' ? (stmt) => directCall(module, suspensions, module._sqlite3_step, stmt, STEP_RESULTS) : (stmt) => api.step(stmt),
    reset: build === 'asyncify' ? (stmt) => directCall(module, suspensions, module._sqlite3_reset, stmt, RESET_RESULTS) : (stmt) => api.reset(stmt),
  };
}

/** SQLite's destructor value that makes it copy a bound value at once. */
const SQLITE_TRANSIENT = -1;
/** Text longer than this (in UTF-16 units) gets an allocation of its own instead of the scratch buffer. */
const SCRATCH_MAX_CHARS = 256 * 1024;

/** One buffer in wasm memory that text is encoded into for binding, grown as needed up to 3 × SCRATCH_MAX_CHARS bytes. */
class TextScratch {
  readonly #module: WasmModule;
  readonly #encoder = new TextEncoder();
  #pointer = 0;
  #capacity = 0;
  /** The buffer as a view, kept between binds (a new view per bind cost more than encoding 100 bytes); made again when memory grows. */
  #view: Uint8Array | undefined;

  constructor(module: WasmModule) {
    this.#module = module;
  }

  bind(stmt: number, index: number, value: string): number {
    const module = this.#module;
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const needed = value.length * 3;
    if (value.length > SCRATCH_MAX_CHARS) {
      const pointer = module._sqlite3_malloc(needed + 1);
      if (!pointer) return SQLITE_NOMEM;
      try {
        const { written } = this.#encoder.encodeInto(value, module.HEAPU8.subarray(pointer, pointer + needed));
        return module._sqlite3_bind_text(stmt, index, pointer, written, SQLITE_TRANSIENT);
      } finally {
        module._sqlite3_free(pointer);
      }
    }
    if (needed + 1 > this.#capacity) {
      const capacity = Math.max(needed + 1, 4096);
      const pointer = module._sqlite3_malloc(capacity);
      if (!pointer) return SQLITE_NOMEM;
      if (this.#pointer) module._sqlite3_free(this.#pointer);
      this.#pointer = pointer;
      this.#capacity = capacity;
      this.#view = undefined;
    }
    const heap = module.HEAPU8;
    if (this.#view?.buffer !== heap.buffer) this.#view = heap.subarray(this.#pointer, this.#pointer + this.#capacity);
    const { written } = this.#encoder.encodeInto(value, this.#view);
    return module._sqlite3_bind_text(stmt, index, this.#pointer, written, SQLITE_TRANSIENT);
  }
}

const SQLITE_NOMEM = 7;

const STEP_RESULTS: readonly number[] = [100, 101]; // SQLITE_ROW, SQLITE_DONE
const RESET_RESULTS: readonly number[] = [0]; // SQLITE_OK
const ONE_NUMBER = ['number'];

/**
 * Calls a statement function of the Asyncify build directly: Emscripten's ccall costs
 * about as much as a row of a scan. When no VFS method suspended SQLite the result is
 * the function's own; when one did, the call returned early and SQLite finishes it by
 * itself once the VFS's promises settle, leaving the result where sqlite3_errcode finds
 * it (SQLite records every step's and reset's result there, SQLITE_ROW and SQLITE_DONE
 * included). See Suspensions.
 */
function directCall(
  module: WasmModule,
  suspensions: Suspensions,
  fn: (stmt: number) => number,
  stmt: number,
  allowed: readonly number[],
): number | Promise<number> {
  const mark = suspensions.count;
  const result = fn(stmt);
  if (suspensions.count === mark) return checkResult(module, stmt, result, allowed);
  return suspensions.settledAfter(mark).then(() => checkResult(module, stmt, module._sqlite3_extended_errcode(module._sqlite3_db_handle(stmt)), allowed));
}

function checkResult(module: WasmModule, stmt: number, code: number, allowed: readonly number[]): number {
  if (allowed.includes(code)) return code;
  throw statementError(module, stmt, code);
}

/**
 * The error of a statement call that returned `code`, as the API's own functions throw
 * it: an Error with SQLite's message for the connection and a numeric `code`.
 */
export function statementError(module: WasmModule, stmt: number, code: number, context?: string): Error {
  const db = module._sqlite3_db_handle(stmt);
  const message = db ? (module.ccall('sqlite3_errmsg', 'string', ONE_NUMBER, [db]) as string) : `SQLite error ${code}`;
  return Object.assign(new Error(context === undefined ? message : `${context}: ${message}`), { code });
}
