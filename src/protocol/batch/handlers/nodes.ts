import { getNode, rebootNode, reimageNode, setScheduling } from '../../../domain/batch/nodes/nodeOperations.js';
import { getPool } from '../../../domain/batch/pools/lookup.js';
import { type Handler, sendEntity, sendList } from '../call.js';
import type { FilterFields } from '../odata/filter.js';
import { pageOf, readSelect, render } from '../odata/listing.js';

export const NODE_FIELDS: FilterFields = {
  id: { type: 'id', column: 'id_key' },
  state: { type: 'enum', column: 'state' },
  stateTransitionTime: { type: 'datetime', column: 'state_transition_time' },
  schedulingState: { type: 'enum' },
  lastBootTime: { type: 'datetime' },
  allocationTime: { type: 'datetime' },
  isDedicated: { type: 'boolean' },
  'startTaskInfo/state': { type: 'enum' },
  'startTaskInfo/result': { type: 'enum' },
  'startTaskInfo/exitCode': { type: 'number' },
  'startTaskInfo/startTime': { type: 'datetime' },
  'startTaskInfo/endTime': { type: 'datetime' },
};

export const list: Handler = async ({ req, ctx, respond, urls, p }) => {
  const pool = await getPool(ctx, p.poolId!);
  const select = readSelect(req);
  const page = await pageOf(ctx.store.nodes, pool.pk, req, NODE_FIELDS);
  const items = page.rows.map((r) => render(r.doc, urls.node(pool.doc.id, r.id), select));
  sendList({ req, respond, urls }, 'nodes', items, page.next);
};

export const get: Handler = async (call) => {
  const { pool, node } = await getNode(call.ctx, call.p.poolId!, call.p.nodeId!);
  sendEntity(call, node, call.urls.node(pool.doc.id, node.id), 'nodes/@Element');
};

const done =
  (status: number): Handler =>
  (call) =>
    call.respond.empty(status, { DataServiceId: call.urls.node(call.p.poolId!, call.p.nodeId!) });

export const reboot: Handler = async (call) => {
  await rebootNode(call.ctx, call.p.poolId!, call.p.nodeId!, (await call.body()) ?? {});
  await done(202)(call);
};

export const reimage: Handler = async (call) => {
  await reimageNode(call.ctx, call.p.poolId!, call.p.nodeId!, (await call.body()) ?? {});
  await done(202)(call);
};

export const disableScheduling: Handler = async (call) => {
  await setScheduling(call.ctx, call.p.poolId!, call.p.nodeId!, false, (await call.body()) ?? {});
  await done(200)(call);
};

export const enableScheduling: Handler = async (call) => {
  await call.body();
  await setScheduling(call.ctx, call.p.poolId!, call.p.nodeId!, true, {});
  await done(200)(call);
};
