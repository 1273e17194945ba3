import type { BatchContext } from '../context.js';
import { touch, type CloudPool } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkCommand, checkMetadata } from '../validation.js';
import { startTaskWithDefaults } from './addPool.js';
import { getLivePool } from './lookup.js';

const UPDATABLE = ['startTask', 'certificateReferences', 'applicationPackageReferences', 'metadata', 'targetNodeCommunicationMode'] as const;

function apply(pool: CloudPool, changes: JsonObject, replaceAll: boolean): void {
  for (const name of UPDATABLE) {
    const value = name === 'startTask' ? startTaskWithDefaults(changes[name] as JsonObject | undefined) : changes[name];
    if (value !== undefined) pool[name] = value;
    else if (replaceAll) delete pool[name];
  }
  if (replaceAll && pool['targetNodeCommunicationMode'] === undefined) pool['targetNodeCommunicationMode'] = 'default';
}

function check(changes: JsonObject): void {
  const start = changes['startTask'];
  if (start) checkCommand(start as JsonObject, 'startTask.');
  checkMetadata(changes['metadata']);
}

/** PATCH /pools/{id}: only the properties given change. */
export async function patchPool(ctx: BatchContext, poolId: string, body: Json, ifMatch?: (pool: CloudPool) => void): Promise<CloudPool> {
  const changes = validateModel('PoolPatchParameter', body);
  check(changes);
  return await ctx.store.tx(async () => {
    const { doc } = await getLivePool(ctx, poolId);
    ifMatch?.(doc);
    apply(doc, changes, false);
    touch(doc, ctx.now);
    await ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}

/** POST /pools/{id}/updateproperties: the updatable properties are replaced as a whole. */
export async function updatePoolProperties(ctx: BatchContext, poolId: string, body: Json, ifMatch?: (pool: CloudPool) => void): Promise<CloudPool> {
  const changes = validateModel('PoolUpdatePropertiesParameter', body);
  check(changes);
  return await ctx.store.tx(async () => {
    const { doc } = await getLivePool(ctx, poolId);
    ifMatch?.(doc);
    apply(doc, changes, true);
    touch(doc, ctx.now);
    await ctx.store.pools.update(ctx.account, doc);
    return doc;
  });
}
