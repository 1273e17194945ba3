import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { minutes, parseDuration } from '../duration.js';
import type { CloudPool } from '../models.js';

/**
 * resizeTimeout, as Azure enforces it (CloudPool.resizeTimeout, PoolResizeParameter and
 * NodeRemoveParameter.resizeTimeout; docs/compatibility.md): a resize, a removal of nodes, and a
 * pool's first sizing at creation each have until their timeout to reach the targets. The deadline
 * is kept on the stored pool (underscored: not shown by the API), so it holds across a restart;
 * the server's allocation timer (src/server/allocationTimer.ts) wakes at the earliest one and calls
 * timeOutResizes (pools/timeOutResizes.ts).
 */
const DEADLINE = '_resizeDeadline';

/** Azure's default resize timeout, and its minimum (a shorter one is a 400). */
export const DEFAULT_RESIZE_TIMEOUT = 'PT15M';
const MIN_RESIZE_TIMEOUT_MS = minutes(5);

/** Refuses a resizeTimeout under 5 minutes, as Azure does (400 InvalidPropertyValue). */
export function checkResizeTimeout(value: unknown): void {
  if (typeof value === 'string' && parseDuration(value)! < MIN_RESIZE_TIMEOUT_MS) {
    throw batchErrors.invalidProperty('resizeTimeout', value, 'The resize timeout must be at least 5 minutes.');
  }
}

/** Starts the clock of a resize: it times out `timeout` (the pool's resizeTimeout by default) from now. */
export function startResizeClock(ctx: BatchContext, pool: CloudPool, timeout?: string): void {
  const ms = parseDuration(timeout ?? pool.resizeTimeout ?? DEFAULT_RESIZE_TIMEOUT) ?? parseDuration(DEFAULT_RESIZE_TIMEOUT)!;
  pool[DEADLINE] = new Date(ctx.now.getTime() + ms).toISOString();
}

/** When the pool's resize in progress times out (ms since the epoch), if one is. */
export function resizeDeadline(pool: CloudPool): number | undefined {
  const at = pool[DEADLINE];
  return typeof at === 'string' ? Date.parse(at) : undefined;
}

export const hasResizeClock = (pool: CloudPool): boolean => pool[DEADLINE] !== undefined;

export function clearResizeClock(pool: CloudPool): void {
  delete pool[DEADLINE];
}
