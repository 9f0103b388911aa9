import { isSettled, SETTLED } from './settled.js';

/**
 * A faster path from SQLite into a JavaScript VFS, for the Asyncify build.
 *
 * wa-sqlite's Emscripten glue enters every VFS method the same way: it decodes the
 * method's name from a C string in wasm memory (`UTF8ToString`: half a microsecond for
 * a name like "xDeviceCharacteristics"), looks the method up on the VFS object, and
 * enters an async method through Asyncify's `handleAsync` even when its answer is
 * already there. A read transaction whose pages are all in memory makes seven such
 * calls (lock, access twice, size, read, device characteristics, unlock), and that
 * glue cost more than the rest of a point query.
 *
 * Here: the names are string constants in SQLite's data segment, so a pointer always
 * names the same method: each VFS's method is looked up once per name pointer. An async method that answers with a
 * `settled()` thenable (an answer from memory) gets its value returned straight to
 * SQLite, as a synchronous method's would be; only one that answers with a promise goes
 * through `handleAsync`, which unwinds SQLite's stack. Asyncify then calls the same
 * import again while it rewinds, once the promise settled: that call, the next one into
 * an async import of this module (nothing else runs in wasm during a rewind), is
 * handed to `handleAsync` too, which returns the answer. The callback table and
 * handleAsync are the module's own, reached through its exports. Import functions are
 * recognised by their names (`_ippp`, `_ippp_async`, …: the argument signature); a
 * function registered as a callback (a user function, a hook) and any call before the
 * module has loaded take the original glue.
 */

/** What the glue needs of an Emscripten module; present once the module has loaded. */
interface GlueModule {
  getCallback(key: number): unknown;
  handleAsync: ((start: () => Thenable) => unknown) | null;
  UTF8ToString(pointer: number): string;
}

/** What handleAsync needs of what its function returns (it calls `then` with one callback). */
interface Thenable {
  then(onFulfilled: (value: unknown) => unknown): unknown;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** wa-sqlite's VFS adapter imports: `_` + return type + argument types, `_async` for those entered through Asyncify. */
const ADAPTER_IMPORT = /^_[iv]p[pij]*(_async)?$/;

/**
 * Replaces the VFS adapter functions among `imports` (the object Emscripten passes to
 * `instantiateWasm`) by faster ones, in place. `module` gives the loaded module, or
 * undefined before it has finished loading.
 */
export function speedUpVfsGlue(imports: object, module: () => GlueModule | undefined): void {
  /** Each VFS's methods by the pointer of their name, decoded once (a VFS's methods do not change once registered). */
  const vfsMethods = new WeakMap<object, Map<number, Method>>();
  /** The VFS of the last call and its methods: a module serves one VFS, as a rule, so the WeakMap is seldom asked. */
  let lastReceiver: object | undefined;
  let lastMethods: Map<number, Method> | undefined;
  const methodOf = (glue: GlueModule, receiver: Record<string, Method>, namePointer: number): Method => {
    let byName = receiver === lastReceiver ? lastMethods : vfsMethods.get(receiver);
    if (byName === undefined) {
      byName = new Map();
      vfsMethods.set(receiver, byName);
    }
    lastReceiver = receiver;
    lastMethods = byName;
    let method = byName.get(namePointer);
    if (method === undefined) {
      method = receiver[glue.UTF8ToString(namePointer)] as Method;
      byName.set(namePointer, method);
    }
    return method;
  };
  /** An async method answered with a promise: Asyncify unwound SQLite and will call the import again as it rewinds. */
  let rewinding = false;

  for (const table of Object.values(imports) as Record<string, unknown>[]) {
    if (typeof table !== 'object' || table === null) continue;
    for (const [key, original] of Object.entries(table)) {
      if (typeof original !== 'function' || !ADAPTER_IMPORT.test(original.name)) continue;
      const isAsync = original.name.endsWith('_async');
      const fallback = original as (...args: unknown[]) => unknown;
      // Up to six arguments after the callback key and the method name (the longest signature, _ippipppp, has eight).
      const replacement = function (
        this: unknown,
        callbackKey: number,
        namePointer: number,
        a: unknown,
        b: unknown,
        c: unknown,
        d: unknown,
        e: unknown,
        f: unknown,
      ) {
        const glue = module();
        const receiver = glue?.handleAsync ? (glue.getCallback(callbackKey) as Record<string, Method> | undefined) : undefined;
        // biome-ignore lint/complexity/noArguments: the original glue takes exactly the arguments SQLite passed
        if (!glue?.handleAsync || typeof receiver !== 'object' || receiver === null) return fallback.apply(undefined, arguments as unknown as unknown[]);
        const handleAsync = glue.handleAsync;
        if (isAsync && rewinding) {
          rewinding = false;
          return handleAsync(() => {
            throw new Error('vfs-glue: a rewinding import was entered anew');
          });
        }
        const answer = methodOf(glue, receiver, namePointer).call(receiver, a, b, c, d, e, f);
        if (!isAsync) return answer;
        if (isSettled(answer)) return answer[SETTLED];
        // A real wait: Asyncify unwinds unless the thenable calls back at once.
        let calledBack = false;
        const result = handleAsync(() => ({
          // biome-ignore lint/suspicious/noThenProperty: handed to handleAsync, which takes a thenable
          then: (wakeUp: (value: unknown) => unknown) =>
            (answer as PromiseLike<unknown>).then((value) => {
              calledBack = true;
              return wakeUp(value);
            }),
        }));
        if (!calledBack) rewinding = true;
        return result;
      };
      // Emscripten marks the async imports; keep the mark, as its own tables do.
      if ((original as { isAsync?: boolean }).isAsync) (replacement as { isAsync?: boolean }).isAsync = true;
      table[key] = replacement;
    }
  }
}
