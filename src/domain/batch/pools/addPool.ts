import { iso, type BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import { touch, type CloudPool } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkId, checkMetadata, checkPoolSpec } from '../validation.js';
import { reconcileAllocation } from './allocation.js';

/** A StartTask with the defaults the service echoes. */
export function startTaskWithDefaults(start: JsonObject | undefined): JsonObject | undefined {
  if (!start) return undefined;
  return {
    ...start,
    maxTaskRetryCount: start['maxTaskRetryCount'] ?? 0,
    waitForSuccess: start['waitForSuccess'] ?? true,
    userIdentity: start['userIdentity'] ?? { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } },
  };
}

/** A new pool document from a validated PoolAddParameter (or an auto pool's specification). */
export function newPoolDoc(ctx: BatchContext, id: string, spec: JsonObject): CloudPool {
  const now = iso(ctx);
  const pool: CloudPool = {
    ...spec,
    id,
    vmSize: String(spec['vmSize']).toLowerCase(),
    eTag: '',
    lastModified: now,
    creationTime: now,
    state: 'active',
    stateTransitionTime: now,
    allocationState: 'steady',
    allocationStateTransitionTime: now,
    resizeTimeout: (spec['resizeTimeout'] as string | undefined) ?? 'PT15M',
    currentDedicatedNodes: 0,
    currentLowPriorityNodes: 0,
    // enableAutoScale true is refused at validation (domain/batch/unsupported.ts): every pool is sized by its targets.
    enableAutoScale: false,
    targetDedicatedNodes: (spec['targetDedicatedNodes'] as number | undefined) ?? 0,
    targetLowPriorityNodes: (spec['targetLowPriorityNodes'] as number | undefined) ?? 0,
    enableInterNodeCommunication: spec['enableInterNodeCommunication'] ?? false,
    taskSlotsPerNode: (spec['taskSlotsPerNode'] as number | undefined) ?? 1,
    taskSchedulingPolicy: spec['taskSchedulingPolicy'] ?? { nodeFillType: 'spread' },
    currentNodeCommunicationMode: 'classic',
  };
  const start = startTaskWithDefaults(spec['startTask'] as JsonObject | undefined);
  if (start) pool['startTask'] = start;
  pool.allocationState = 'steady';
  reconcileAllocation(ctx, pool);
  pool.allocationStateTransitionTime = now;
  return pool;
}

/** POST /pools. */
export async function addPool(ctx: BatchContext, body: Json): Promise<CloudPool> {
  const spec = validateModel('PoolAddParameter', body);
  const id = checkId(spec['id']);
  checkPoolSpec(spec, '');
  checkMetadata(spec['metadata']);
  return await ctx.store.tx(async () => {
    const existing = await ctx.store.pools.get(ctx.account, id);
    if (existing) throw existing.doc.state === 'deleting' ? batchErrors.poolBeingDeleted() : batchErrors.poolExists();
    const pool = newPoolDoc(ctx, id, spec);
    touch(pool, ctx.now);
    await ctx.store.pools.insert(ctx.account, pool);
    return pool;
  });
}
