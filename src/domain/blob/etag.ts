import { randomInt } from 'node:crypto';

// Etags are the version conditional writes compare (Expect in store.ts). A random start makes two
// servers on one store unlikely to make the same etag in the same millisecond.
let sequence = randomInt(100_000);

/** A fresh quoted ETag in Azure's style ("0x8D…"): a timestamp-derived counter, unique within this process. */
export function newEtag(now = Date.now()): string {
  sequence = (sequence + 1) % 100_000;
  const value = BigInt(now) * 100_000n + BigInt(sequence) + 0x8d00000000000000n;
  return `"0x${value.toString(16).toUpperCase()}"`;
}
