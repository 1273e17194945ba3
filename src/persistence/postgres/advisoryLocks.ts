/**
 * PostgreSQL advisory locks Kiln takes, as pg_advisory_lock(ADVISORY_LOCK_SPACE, key): the first
 * number keeps Kiln's locks apart from other software's on a shared database (locks are per
 * database already), the second names the lock. Add new keys here, never reuse one.
 */
export const ADVISORY_LOCK_SPACE = 0x4b494c4e; // 'KILN'

export const AdvisoryLock = {
  /** Held while migrations are checked and applied, so two servers starting at once take turns. */
  migrations: 1,
  /** Held (pg_advisory_xact_lock) by every Batch unit of work until it commits: one at a time across servers (postgres/batchUnitOfWork.ts). */
  batchWrites: 2,
} as const;
