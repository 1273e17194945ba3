import { BatchError } from '../../../domain/batch/errors.js';
import { getNode } from '../../../domain/batch/nodes/nodeOperations.js';
import { getPool } from '../../../domain/batch/pools/lookup.js';
import { operationNotSupported } from '../../../domain/batch/unsupported.js';
import type { Handler } from '../call.js';

/**
 * An operation of the Batch API that Kiln does not implement. The pool and node its path names are
 * looked up first, so a missing one is still PoolNotFound/NodeNotFound (404); an existing one gets
 * NotImplemented (400, see domain/batch/unsupported.ts), never a 404 that says it is missing.
 */
export const notSupported =
  (operation: string, reason?: string): Handler =>
  async (call) => {
    const { poolId, nodeId } = call.p;
    if (poolId !== undefined && nodeId !== undefined) await getNode(call.ctx, poolId, nodeId);
    else if (poolId !== undefined) await getPool(call.ctx, poolId);
    await call.body();
    throw operationNotSupported(operation, reason);
  };

/** A resource Kiln never has (an application, a certificate): the lookup is simply not found. */
export const neverFound =
  (error: () => BatchError): Handler =>
  async (call) => {
    await call.body();
    throw error();
  };
