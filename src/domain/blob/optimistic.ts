import { errors } from './errors.js';
import { WriteConflict } from './store.js';

/**
 * How many times a write is decided again after a WriteConflict before the client is told to retry (503
 * ServerBusy, which the SDKs retry). Only writes racing on one blob or container conflict, and each
 * conflict means another write succeeded, so this bounds the wait, not correctness.
 */
const MAX_ATTEMPTS = 16;

/**
 * Runs a read-check-write (`attempt`: read the resource, check the request's conditions against it, write
 * with the store checking that what was read is still so) until it goes through: after a WriteConflict
 * it is read and decided again, so the answer (done, 412, 409, 404) is the one it would have had, had the
 * writes that came between been made before it.
 */
export async function optimistic<T>(attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof WriteConflict)) throw err;
      if (tries >= MAX_ATTEMPTS) throw errors.serverBusy();
    }
  }
}
