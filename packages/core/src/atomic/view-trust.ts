/**
 * How long a view of the file counts as current without looking at the head again.
 * The garbage collector deletes only history older than its grace period (at least
 * twice this), so a view confirmed this recently cannot be missing a commit whose
 * record the collector removed; an older view re-reads the head before it is trusted
 * (one GET, only after a minute of idleness).
 */
export const VIEW_TRUST_MS = 60_000;
