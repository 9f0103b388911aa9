import type { BlockStore, StoreCapabilities } from '@blockvfs/core/store';
import type { ConformanceOptions, ResolvedScale } from './options.js';

/** The body of one case: it gets a fresh store and the resolved scale. */
export type CaseBody = (store: BlockStore, scale: ResolvedScale) => Promise<void>;

/** Which capability flag a case needs, and whether it needs it on (`true`) or off (`false`). */
export interface CaseGate {
  capability: keyof Pick<StoreCapabilities, 'conditionalPut' | 'rangeGet'>;
  value: boolean;
}

/**
 * Registers cases with the caller's framework. Each case creates its own store and
 * destroys it afterwards, so cases never see one another's objects, and a failing
 * case does not leave a half-written fixture for the next.
 */
export class Harness {
  readonly #options: ConformanceOptions;
  readonly #scale: ResolvedScale;
  readonly #timeoutMs: number;

  constructor(options: ConformanceOptions, scale: ResolvedScale) {
    this.#options = options;
    this.#scale = scale;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  group(name: string, body: () => void): void {
    this.#options.describe(name, body);
  }

  case(title: string, body: CaseBody, gate?: CaseGate): void {
    const { createStore, destroyStore } = this.#options;
    const scale = this.#scale;
    // `...args` keeps the function's length at 0: jest would otherwise take a declared
    // parameter for a `done` callback and wait for it.
    this.#options.it(
      title,
      async (...args: unknown[]) => {
        const store = await createStore();
        try {
          if (gate && store.capabilities[gate.capability] !== gate.value) {
            // The capability is declared the other way: the case does not apply. The gate
            // check itself is the assertion that remains (and it cannot silently pass a
            // store whose flag is missing: `undefined !== false`).
            skipVisibly(args[0], `capabilities.${gate.capability} is ${String(store.capabilities[gate.capability])}`);
            return;
          }
          await body(store, scale);
        } finally {
          await destroyStore?.(store);
        }
      },
      this.#timeoutMs,
    );
  }
}

/** vitest's and node:test's contexts have `skip(note)`; jest passes none, and the case just ends. */
function skipVisibly(context: unknown, reason: string): void {
  const skip = (context as { skip?: unknown } | undefined)?.skip;
  if (typeof skip === 'function') skip.call(context, reason);
}
