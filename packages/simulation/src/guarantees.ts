/**
 * The guarantees docs/atomic-format.md states, each with the check of this simulation
 * that covers it. Every finding names one of them, so a failure says which promise broke;
 * the README's table is this list.
 */
export const GUARANTEES = {
  keys: {
    section: '§1',
    promise:
      'Every object of file <name> is one of head, lease, log/<seq>, checkpoint/<seq>, blocks/<index>.<seq>.<tag>, with zero-padded numbers; a block object is never rewritten (with other bytes) once a record names it.',
    check:
      "Format monitor, at every put: the key parses as one of the five kinds; a put to a block key named by an existing record must carry the same bytes (the record's inline bytes, or the object's).",
  },
  conditions: {
    section: '§1, §5, §6',
    promise: 'log/<seq> and checkpoint/<seq> are created with ifNoneMatch "*" and never rewritten; the head and the lease are only ever written conditionally.',
    check: 'Format monitor: the condition of every put of those keys; a record seq created a second time (after a deletion) is flagged.',
  },
  envelope: {
    section: '§2',
    promise: 'Every object but blocks is one envelope: magic, version 1, kind, JSON header with valid fields, payload, CRC-32.',
    check:
      "Format monitor decodes every record, checkpoint, head and lease put with its own decoder (written from the document, not core's) and checks the CRC and every field.",
  },
  recordTime: {
    section: '§2, §7',
    promise: "A record's time is never less than the previous record's, whatever the clocks (processes run with skewed clocks).",
    check: 'Format monitor at each record creation; time travel checks version().time is non-decreasing in the commit number.',
  },
  recordBlocks: {
    section: '§3',
    promise:
      'A record names only blocks uploaded before it was created; blocks past the size are dropped and the last is trimmed; small commits go inline (one PUT), larger ones as block objects.',
    check:
      'Format monitor at each record creation: every named block object exists with length blockLength(index, size); every index < blockCount(size); inline total <= 128 KiB, a block-object commit > 128 KiB.',
  },
  durable: {
    section: '§3, §11',
    promise:
      'A commit is durable and visible exactly when its record exists: an acknowledged transaction is never lost (also across kills, late landings and garbage collections).',
    check:
      'Oracle: every acknowledged op is in every later fresh read, in every clean check (mid-run and final), and in every kept commit from the one version() named at its acknowledgement on.',
  },
  notApplied: {
    section: '§3, §10',
    promise: 'A commit that failed for certain (precondition-failed, i.e. SQLITE_BUSY; or a transaction whose body failed before COMMIT) is not applied.',
    check: 'Oracle: such an op is absent from every read, every check and every commit of the history.',
  },
  allOrNothing: {
    section: '§3, §11',
    promise: 'A commit with an unknown outcome (store error, lost answer, killed process) is applied whole or not at all.',
    check: 'Oracle invariants on every state seen: an op row and its data (item row with its exact body, counter value) are both present or both absent.',
  },
  oneCommit: {
    section: '§4',
    promise: 'A read transaction sees exactly one commit (snapshot isolation), even while others commit.',
    check:
      "Oracle: every read's state passes the invariants, is the same at the start and the end of the (possibly long) read transaction, and equals the state of one commit of the history found by time travel.",
  },
  contiguous: {
    section: '§4',
    promise: 'Records are contiguous: N+1 is created only after N.',
    check: 'Format monitor: log/<N+1> created only when log/<N> was created before.',
  },
  fresh: {
    section: '§4',
    promise: 'With freshness 0 (and no lease) a read transaction refreshes: it sees every commit whose record existed when it started.',
    check: 'Oracle: a read by such a process contains every op acknowledged (by anyone) before the read was issued.',
  },
  monotonic: {
    section: '§4',
    promise: "A process's view never goes back: commits it knows of stay known (refresh, reload, reopen).",
    check: "Oracle: each process's reads contain what its earlier reads saw and its own acknowledged ops.",
  },
  checkpoint: {
    section: '§5',
    promise:
      "checkpoint/<N> holds exactly the block map, size, block size and time after commit N, and, from the head's oldest on, the blocks it names exist (inline blocks are folded first); one below oldest is garbage, never listed.",
    check:
      "Format monitor: at each checkpoint creation, compares it (each segment, and a segmented root's hot entries) with the state it computes from the records, and (from oldest on) checks every named block object exists.",
  },
  head: {
    section: '§5, §8',
    promise: "The head never goes backwards, no writer's update is lost, and every checkpoint it lists exists.",
    check:
      'Format monitor at each head put: checkpoint and oldest never decrease, every listed checkpoint (from oldest on) of the replaced head is kept, the list is ascending with checkpoint its maximum, oldest is listed, and every listed checkpoint exists.',
  },
  oneWriter: {
    section: '§6',
    promise: 'Two writers never both commit on the same base: exactly one creates log/<N+1>; the loser gets SQLITE_BUSY.',
    check:
      "Oracle: each commit of the history adds at most one op to the previous one's set and removes none; each counter's recorded read values form the chain 0,1,…,n−1 with the counter at n (no lost or doubled read-modify-write).",
  },
  lease: {
    section: '§6',
    promise: 'A writer lease held by a live owner is not taken over (it is a courtesy: safety does not depend on it).',
    check: "Format monitor: a lease put replacing another owner's lease that has not expired (beyond the clock skew of the run) is flagged.",
  },
  timeTravel: {
    section: '§7',
    promise: 'asOf N opens the state after commit N (below the oldest kept commit: not-found); asOf a Date opens the newest commit at or before it.',
    check:
      "Final check: time travel to every kept commit (a sample of long histories) checks version().commit, the invariants and the op set; one commit below the oldest must be not-found; asOf the Date of a commit's time opens the newest commit with that time.",
  },
  collection: {
    section: '§8',
    promise:
      "Garbage collection deletes only what no kept commit needs: never a record after the oldest kept commit, a checkpoint from it on, or a block live in a kept commit; it raises the head's oldest before deleting, and never past the commit in force at its horizon.",
    check:
      "Format monitor at every delete (against the head at that instant and its own shadow of every commit); oracle: each collection's reported oldestKept is at most the commit in force at now − max(retention, grace), by record times.",
  },
  grace: {
    section: '§8',
    promise: 'Within the grace period, readers and writers never meet a missing object; a writer never recreates a collected record.',
    check: 'Oracle: no operation ever fails with a permanent "missing object" error; format monitor: a record seq created twice is flagged.',
  },
  sqlite: {
    section: '§10, §11',
    promise: 'The database stays a valid SQLite database that opens and takes new commits.',
    check:
      'Clean checks (mid-run and final): PRAGMA integrity_check is ok; the final checker also commits once more. Any SQLITE_CORRUPT/NOTADB, non-SQLite error or permanent/invalid store error seen by any process is a finding.',
  },
  progress: {
    section: 'general',
    promise: 'Every call settles: no request, lock or promise is left hanging (with the store answering eventually), and the run ends.',
    check:
      'Scheduler: a run whose event queue empties while processes still wait (a promise that never settles), or that exceeds its event budget, is a finding; so is an unhandled rejection.',
  },
} as const;

export type GuaranteeId = keyof typeof GUARANTEES;

export interface Finding {
  guarantee: GuaranteeId;
  message: string;
  /** Virtual ms since the run started. */
  at: number;
}
