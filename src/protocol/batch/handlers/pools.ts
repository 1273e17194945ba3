import { addPool } from '../../../domain/batch/pools/addPool.js';
import { disableAutoScale } from '../../../domain/batch/pools/autoScale.js';
import { deletePool } from '../../../domain/batch/pools/deletePool.js';
import { getPool } from '../../../domain/batch/pools/lookup.js';
import { resizePool, stopResizePool } from '../../../domain/batch/pools/resizePool.js';
import { patchPool, updatePoolProperties } from '../../../domain/batch/pools/updatePool.js';
import { removeNodes } from '../../../domain/batch/nodes/nodeOperations.js';
import type { Json } from '../../../domain/batch/schema/validate.js';
import { created, type Handler, resourceHeaders, sendEntity, sendList } from '../call.js';
import { checkConditions, conditionsFor } from '../conditions.js';
import { ENTITY_FIELDS, type FilterFields } from '../odata/filter.js';
import { pageOf, readSelect, render } from '../odata/listing.js';

export const POOL_FIELDS: FilterFields = {
  ...ENTITY_FIELDS,
  allocationState: { type: 'enum' },
  allocationStateTransitionTime: { type: 'datetime' },
  enableAutoScale: { type: 'boolean' },
  vmSize: { type: 'enum' },
  enableInterNodeCommunication: { type: 'boolean' },
  displayName: { type: 'string' },
  currentDedicatedNodes: { type: 'number' },
  currentLowPriorityNodes: { type: 'number' },
  targetDedicatedNodes: { type: 'number' },
  targetLowPriorityNodes: { type: 'number' },
};

const body = async (call: Parameters<Handler>[0]): Promise<Json> => (await call.body()) ?? {};

export const add: Handler = async (call) => {
  const pool = await addPool(call.ctx, await body(call));
  created(call, pool, call.urls.pool(pool.id));
};

export const list: Handler = async ({ req, ctx, respond, urls }) => {
  const select = readSelect(req);
  const page = await pageOf(ctx.store.pools, ctx.account, req, POOL_FIELDS);
  const items = page.rows.map((r) => render(r.doc, urls.pool(r.id), select));
  sendList({ req, respond, urls }, 'pools', items, page.next);
};

export const get: Handler = async (call) => {
  const { doc } = await getPool(call.ctx, call.p.poolId!);
  sendEntity(call, doc, call.urls.pool(doc.id), 'pools/@Element');
};

/** HEAD /pools/{id}: 200 if it exists, 404 if not (both "success" to the SDKs), no body. */
export const exists: Handler = async (call) => {
  const { doc } = await getPool(call.ctx, call.p.poolId!);
  checkConditions(call.req, doc, true);
  call.respond.empty(200, resourceHeaders(doc, call.urls.pool(doc.id)));
};

export const remove: Handler = async (call) => {
  const { doc } = await getPool(call.ctx, call.p.poolId!);
  checkConditions(call.req, doc, false);
  await deletePool(call.ctx, call.p.poolId!);
  call.respond.empty(202, { DataServiceId: call.urls.pool(doc.id) });
};

export const patch: Handler = async (call) => {
  const pool = await patchPool(call.ctx, call.p.poolId!, await body(call), conditionsFor(call.req));
  call.respond.empty(200, resourceHeaders(pool, call.urls.pool(pool.id)));
};

export const updateProperties: Handler = async (call) => {
  const pool = await updatePoolProperties(call.ctx, call.p.poolId!, await body(call), conditionsFor(call.req));
  call.respond.empty(204, resourceHeaders(pool, call.urls.pool(pool.id)));
};

export const resize: Handler = async (call) => {
  const pool = await resizePool(call.ctx, call.p.poolId!, await body(call), conditionsFor(call.req));
  call.respond.empty(202, resourceHeaders(pool, call.urls.pool(pool.id)));
};

export const stopResize: Handler = async (call) => {
  await call.body();
  const pool = await stopResizePool(call.ctx, call.p.poolId!, conditionsFor(call.req));
  call.respond.empty(202, resourceHeaders(pool, call.urls.pool(pool.id)));
};

export const disableAutoScaleHandler: Handler = async (call) => {
  await call.body();
  const pool = await disableAutoScale(call.ctx, call.p.poolId!);
  call.respond.empty(200, resourceHeaders(pool, call.urls.pool(pool.id)));
};

/** POST /pools/{id}/removenodes: the conditions are checked on the pool as it is when the nodes go (no await between). */
export const removeNodesHandler: Handler = async (call) => {
  const request = await body(call);
  checkConditions(call.req, (await getPool(call.ctx, call.p.poolId!)).doc, false);
  await removeNodes(call.ctx, call.p.poolId!, request);
  const { doc } = await getPool(call.ctx, call.p.poolId!);
  call.respond.empty(202, resourceHeaders(doc, call.urls.pool(doc.id)));
};
