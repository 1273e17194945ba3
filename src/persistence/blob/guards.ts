import type { Expect, UncommittedBlock } from '../../domain/blob/store.js';

// The checks a write's transaction makes before its change (the port's Expect and CommitGuard,
// src/domain/blob/store.ts), on what the store reads inside that transaction.

/** Whether the row as it is now is what the write expected. */
export const meets = (row: { etag: string } | undefined, expect: Expect): boolean =>
  expect === 'any' || (expect === 'absent' ? row === undefined : row !== undefined && row.etag === expect.etag);

/** Whether the blocks staged now are exactly those the commit read: the same ids, each with the same extent. */
export function stagedUnchanged(read: readonly UncommittedBlock[], now: readonly UncommittedBlock[]): boolean {
  const extents = new Map(now.map((s) => [s.blockId, s.extent]));
  return extents.size === read.length && read.every((s) => extents.get(s.blockId) === s.extent);
}
