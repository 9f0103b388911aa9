import { isBlockVfsError } from '@blockvfs/core';

/**
 * Exit statuses: a script can tell a typo from a missing database from a failure of the
 * store, and `verify` says whether the database is sound.
 */
export const EXIT = {
  ok: 0,
  /** The command failed: the store, SQL, a network error. */
  failed: 1,
  /** Bad usage: an unknown option, a bad URL, a bad value. */
  usage: 2,
  /** The database (or the commit asked for) does not exist. */
  notFound: 3,
  /** The target exists and `--force` was not given. */
  exists: 4,
  /** `verify` found the database damaged. */
  damaged: 5,
} as const;

/** An error whose message is the whole story for the user (no stack), with its exit status. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.failed, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The exit status an error stands for. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  if (isBlockVfsError(error, 'not-found')) return EXIT.notFound;
  if (isBlockVfsError(error, 'invalid')) return EXIT.usage;
  return EXIT.failed;
}

/** One line (or a few) for stderr: the message, without a stack for errors we expect. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    // A failure we did not foresee keeps its stack with BLOCKVFS_DEBUG=1.
    if (process.env.BLOCKVFS_DEBUG === '1' && error.stack) return error.stack;
    return typeof code === 'string' && !error.message.includes(code) && !(error instanceof CliError) && !isBlockVfsError(error)
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}
