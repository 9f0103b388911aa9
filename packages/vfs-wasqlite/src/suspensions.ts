/**
 * The suspensions of one wa-sqlite module: every time an async VFS method of ours
 * answers with a real promise, Asyncify unwinds SQLite's stack, and rewinds it when
 * that promise settles.
 *
 * Why count them: a statement function called directly (not through Emscripten's ccall,
 * whose per-call work costs as much as a row of a scan) returns at once either its true
 * result, when nothing suspended, or garbage, when something did; then SQLite resumes
 * later by itself, when the promise settles. Comparing the count before and after the
 * call tells the two apart, and `settledAfter` waits until SQLite has finished.
 */
export class Suspensions {
  #count = 0;
  #last: Promise<unknown> = Promise.resolve();

  get count(): number {
    return this.#count;
  }

  /** An async VFS method returned `promise`: SQLite is suspended until it settles. */
  note(promise: Promise<unknown>): void {
    this.#count += 1;
    this.#last = promise;
  }

  /**
   * Resolves once SQLite, suspended since count `mark`, has resumed and ended the call
   * without suspending again. Asyncify's own callback was attached to each promise when
   * the VFS method returned it, before ours, so it rewinds SQLite first.
   */
  async settledAfter(mark: number): Promise<void> {
    let seen = mark;
    while (this.#count !== seen) {
      seen = this.#count;
      await this.#last.then(ignore, ignore);
    }
  }
}

const ignore = (): void => undefined;

const byModule = new WeakMap<object, Suspensions>();

/** The suspension count of `module` (one per loaded SQLite module). */
export function suspensionsOf(module: object): Suspensions {
  let suspensions = byModule.get(module);
  if (!suspensions) {
    suspensions = new Suspensions();
    byModule.set(module, suspensions);
  }
  return suspensions;
}
