import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { CloudPool, ComputeNode } from '../../src/domain/batch/models.js';
import { beginDeallocation, pendingDeallocation } from '../../src/domain/batch/nodes/deallocation.js';
import { countPoolNodes, keptNodes, newNodeDoc, nodeJoined, unplannedNodeJoining } from '../../src/domain/batch/nodes/lifecycle.js';
import { removeNodes } from '../../src/domain/batch/nodes/nodeOperations.js';
import { addPool } from '../../src/domain/batch/pools/addPool.js';
import { ALLOCATION_TIMED_OUT, reconcileAllocation, RESIZE_STOPPED, STOPPED_BY } from '../../src/domain/batch/pools/allocation.js';
import { deletePool, finishPoolDeletion } from '../../src/domain/batch/pools/deletePool.js';
import { RESIZE_DEALLOCATION, resizePool, stopResizePool } from '../../src/domain/batch/pools/resizePool.js';
import { checkResizeTimeout, resizeDeadline } from '../../src/domain/batch/pools/resizeTimeout.js';
import { timeOutResizes } from '../../src/domain/batch/pools/timeOutResizes.js';
import { iso, MIN, refusal, T0, unitBatch, VM, type UnitBatch } from './helpers.js';

/** A pool document as the allocation state machine reads it. */
const doc = (extra: Partial<CloudPool>): CloudPool =>
  ({
    id: 'p',
    state: 'active',
    allocationState: 'steady',
    allocationStateTransitionTime: iso(-MIN),
    currentDedicatedNodes: 0,
    currentLowPriorityNodes: 0,
    enableAutoScale: false,
    ...extra,
  }) as CloudPool;

describe('allocation state (reconcileAllocation, on a document)', () => {
  const b = unitBatch();
  after(() => b.close());

  it('resizing while the current counts miss the targets, with a resize clock from now; steady once met', () => {
    b.at(0);
    const pool = doc({ targetDedicatedNodes: 2, resizeTimeout: 'PT7M' });
    reconcileAllocation(b.ctx(), pool);
    assert.equal(pool.allocationState, 'resizing');
    assert.equal(pool.allocationStateTransitionTime, iso(0));
    assert.equal(resizeDeadline(pool), T0 + 7 * MIN);
    b.at(MIN);
    pool.currentDedicatedNodes = 2;
    reconcileAllocation(b.ctx(), pool);
    assert.equal(pool.allocationState, 'steady');
    assert.equal(pool.allocationStateTransitionTime, iso(MIN));
    assert.equal(resizeDeadline(pool), undefined, 'the clock stops with the resize');
  });

  it('nodes still coming or going keep it resizing though the counts meet the targets', () => {
    const pool = doc({ targetLowPriorityNodes: 1, currentLowPriorityNodes: 1 });
    reconcileAllocation(b.ctx(), pool, 1);
    assert.equal(pool.allocationState, 'resizing');
    reconcileAllocation(b.ctx(), pool, 0);
    assert.equal(pool.allocationState, 'steady');
  });

  it('no transition, no new transition time', () => {
    b.at(0);
    const pool = doc({ targetDedicatedNodes: 0 });
    b.at(5 * MIN);
    reconcileAllocation(b.ctx(), pool);
    assert.equal(pool.allocationState, 'steady');
    assert.equal(pool.allocationStateTransitionTime, iso(-MIN));
  });

  it('a stopping pool is steady once nothing settles, with the error that stopped it', () => {
    const stopped = doc({ allocationState: 'stopping', targetDedicatedNodes: 5 });
    reconcileAllocation(b.ctx(), stopped, 2);
    assert.equal(stopped.allocationState, 'stopping', 'targets are not what ends a stop');
    reconcileAllocation(b.ctx(), stopped, 0);
    assert.equal(stopped.allocationState, 'steady');
    assert.deepEqual(stopped.resizeErrors, [RESIZE_STOPPED]);
    const timedOut = doc({ allocationState: 'stopping', [STOPPED_BY]: ALLOCATION_TIMED_OUT });
    reconcileAllocation(b.ctx(), timedOut, 0);
    assert.deepEqual(timedOut.resizeErrors, [ALLOCATION_TIMED_OUT]);
    assert.equal(timedOut[STOPPED_BY], undefined, 'the reason is not kept once reported');
  });

  it('an autoscale pool is steady whatever its counts', () => {
    const pool = doc({ enableAutoScale: true, targetDedicatedNodes: 3, allocationState: 'resizing' });
    reconcileAllocation(b.ctx(), pool);
    assert.equal(pool.allocationState, 'steady');
  });
});

/** What the allocation tests read and do on a fixture's store. */
function poolOps(b: UnitBatch) {
  let seq = 0;
  return {
    state: async (id: string) => {
      const p = (await b.pool(id)).doc;
      return { allocation: p.allocationState, current: [p.currentDedicatedNodes, p.currentLowPriorityNodes], target: [p.targetDedicatedNodes, p.targetLowPriorityNodes] };
    },
    /** Node records for what the pool misses, as the local nodes make them (`creating`). */
    makeNodes: async (poolId: string, n: number, dedicated = true): Promise<ComputeNode[]> =>
      await b.store.tx(async () => {
        const { pk, doc } = await b.pool(poolId);
        const made = Array.from({ length: n }, () => newNodeDoc(b.ctx(), doc, `tvm-${poolId}-${++seq}`, dedicated));
        for (const node of made) await b.store.nodes.insert(pk, node);
        await countPoolNodes(b.ctx(), pk, doc);
        return made;
      }),
    /** An agent joins as the node. */
    join: async (poolId: string, node: ComputeNode) =>
      await b.store.tx(async () => {
        const { pk, doc } = await b.pool(poolId);
        await nodeJoined(b.ctx(), pk, doc, node);
        await countPoolNodes(b.ctx(), pk, doc);
      }),
  };
}

describe('resize, stop, remove nodes (on the store)', () => {
  const b = unitBatch();
  after(() => b.close());
  const { state, makeNodes, join } = poolOps(b);

  it('a resize up is resizing until the new nodes have joined', async () => {
    b.at(0);
    await b.poolWithNodes('up', 1);
    assert.deepEqual(await state('up'), { allocation: 'steady', current: [1, 0], target: [1, 0] });
    b.at(MIN);
    await resizePool(b.ctx(), 'up', { targetDedicatedNodes: 2, targetLowPriorityNodes: 1, nodeDeallocationOption: 'taskcompletion' });
    assert.deepEqual(await state('up'), { allocation: 'resizing', current: [1, 0], target: [2, 1] });
    assert.equal((await b.pool('up')).doc[RESIZE_DEALLOCATION], 'taskcompletion');
    assert.equal(resizeDeadline((await b.pool('up')).doc), T0 + MIN + 15 * MIN, 'the default resizeTimeout');
    const [d] = await makeNodes('up', 1);
    const [l] = await makeNodes('up', 1, false);
    assert.deepEqual(await state('up'), { allocation: 'resizing', current: [2, 1], target: [2, 1] }, 'nodes still creating keep it resizing');
    await join('up', d!);
    assert.equal((await state('up')).allocation, 'resizing');
    await join('up', l!);
    assert.equal((await state('up')).allocation, 'steady');
  });

  it('refuses a resize while one runs, without targets, on a deleting pool; a stop when none runs', async () => {
    await b.poolWithNodes('busy', 0);
    await assert.rejects(async () => await stopResizePool(b.ctx(), 'busy'), refusal(409, 'PoolNotResizing'));
    await assert.rejects(async () => await resizePool(b.ctx(), 'busy', {}), refusal(400, 'MissingRequiredProperty'));
    await assert.rejects(async () => await resizePool(b.ctx(), 'busy', { targetDedicatedNodes: 1, resizeTimeout: 'PT1M' }), refusal(400, 'InvalidPropertyValue'));
    await resizePool(b.ctx(), 'busy', { targetDedicatedNodes: 1 });
    await assert.rejects(async () => await resizePool(b.ctx(), 'busy', { targetDedicatedNodes: 2 }), refusal(409, 'PoolBeingResized'));
    await assert.rejects(async () => await removeNodes(b.ctx(), 'busy', { nodeList: ['x'] }), refusal(409, 'PoolBeingResized'));
    await assert.rejects(async () => await resizePool(b.ctx(), 'nope', { targetDedicatedNodes: 2 }), refusal(404, 'PoolNotFound'));
    await b.poolWithNodes('gone', 1);
    await deletePool(b.ctx(), 'gone');
    await assert.rejects(async () => await resizePool(b.ctx(), 'gone', { targetDedicatedNodes: 2 }), refusal(409, 'PoolBeingDeleted'));
  });

  it('a stopped resize keeps the nodes it has: stopping while nodes are in flight, then steady with ResizeStopped', async () => {
    await b.poolWithNodes('stop', 1);
    await resizePool(b.ctx(), 'stop', { targetDedicatedNodes: 3 });
    const [coming] = await makeNodes('stop', 1);
    await stopResizePool(b.ctx(), 'stop');
    assert.deepEqual(await state('stop'), { allocation: 'stopping', current: [2, 0], target: [2, 0] });
    await join('stop', coming!);
    assert.deepEqual(await state('stop'), { allocation: 'steady', current: [2, 0], target: [2, 0] });
    assert.deepEqual(
      (await b.pool('stop')).doc.resizeErrors?.map((e) => e.code),
      ['ResizeStopped'],
    );
    // The next resize clears the errors.
    await resizePool(b.ctx(), 'stop', { targetDedicatedNodes: 1 });
    assert.equal((await b.pool('stop')).doc.resizeErrors, undefined);
  });

  it('removenodes: the nodes leave with their option, the targets shrink, with a clock of its own', async () => {
    b.at(0);
    const [a, c] = await b.poolWithNodes('rm', 2, { resizeTimeout: 'PT30M' });
    await assert.rejects(async () => await removeNodes(b.ctx(), 'rm', { nodeList: [] }), refusal(400, 'InvalidPropertyValue'));
    await assert.rejects(async () => await removeNodes(b.ctx(), 'rm', { nodeList: [a!.id, 'tvm-nope'] }), refusal(404, 'NodeNotFound'));
    assert.equal((await b.nodes('rm')).filter((n) => n.state === 'leavingpool').length, 0, 'a refused removal changes nothing');
    b.at(MIN);
    await removeNodes(b.ctx(), 'rm', { nodeList: [a!.id], nodeDeallocationOption: 'terminate', resizeTimeout: 'PT6M' });
    const leaving = (await b.nodes('rm')).find((n) => n.id === a!.id)!;
    assert.equal(leaving.state, 'leavingpool');
    assert.deepEqual(pendingDeallocation(leaving), { operation: 'remove', option: 'terminate' });
    assert.equal((await b.nodes('rm')).find((n) => n.id === c!.id)!.state, 'idle');
    assert.deepEqual(await state('rm'), { allocation: 'resizing', current: [2, 0], target: [1, 0] });
    assert.equal(resizeDeadline((await b.pool('rm')).doc), T0 + 7 * MIN, "NodeRemoveParameter's timeout, not the pool's");
    assert.deepEqual(await keptNodes(b.ctx(), (await b.pool('rm')).pk), { dedicated: 1, lowPriority: 0 });
    await b.store.tx(async () => {
      await b.store.nodes.delete((await b.pool('rm')).pk, a!.id);
      await countPoolNodes(b.ctx(), (await b.pool('rm')).pk, (await b.pool('rm')).doc);
    });
    assert.deepEqual(await state('rm'), { allocation: 'steady', current: [1, 0], target: [1, 0] });
  });

  it('a stop while nodes leave: the leaving ones still go and are not kept', async () => {
    const [a] = await b.poolWithNodes('stopleave', 2);
    await removeNodes(b.ctx(), 'stopleave', { nodeList: [a!.id] });
    await stopResizePool(b.ctx(), 'stopleave');
    assert.deepEqual(await state('stopleave'), { allocation: 'stopping', current: [2, 0], target: [1, 0] });
  });

  it('a resizeTimeout under 5 minutes is refused', () => {
    checkResizeTimeout('PT5M');
    checkResizeTimeout(undefined);
    assert.throws(() => checkResizeTimeout('PT299S'), refusal(400, 'InvalidPropertyValue'));
  });

  it('an agent the pool did not ask for grows its target rather than leaving it resizing', async () => {
    await b.poolWithNodes('extra', 1);
    await b.store.tx(async () => {
      const { pk, doc } = await b.pool('extra');
      await unplannedNodeJoining(b.ctx(), pk, doc, true);
      await unplannedNodeJoining(b.ctx(), pk, doc, false);
      const dedicated = newNodeDoc(b.ctx(), doc, 'tvm-extra-d', true);
      const spot = newNodeDoc(b.ctx(), doc, 'tvm-extra-l', false);
      for (const n of [dedicated, spot]) {
        await b.store.nodes.insert(pk, n);
        await nodeJoined(b.ctx(), pk, doc, n);
      }
      await countPoolNodes(b.ctx(), pk, doc);
    });
    assert.deepEqual(await state('extra'), { allocation: 'steady', current: [2, 1], target: [2, 1] });
  });

  it('a recount that changes nothing keeps the eTag; one that does changes it', async () => {
    await b.poolWithNodes('etag', 1);
    const before = (await b.pool('etag')).doc.eTag;
    await b.store.tx(async () => await countPoolNodes(b.ctx(), (await b.pool('etag')).pk, (await b.pool('etag')).doc));
    assert.equal((await b.pool('etag')).doc.eTag, before);
    await makeNodes('etag', 1);
    assert.notEqual((await b.pool('etag')).doc.eTag, before);
  });

  it('deletePool: gone at once without nodes; otherwise deleting until its last node has left', async () => {
    await b.poolWithNodes('empty', 0);
    await deletePool(b.ctx(), 'empty');
    assert.equal(await b.store.pools.get('unit', 'empty'), undefined);
    const [n] = await b.poolWithNodes('full', 1);
    await deletePool(b.ctx(), 'full');
    assert.equal((await b.pool('full')).doc.state, 'deleting');
    assert.ok(b.hooks.some(([hook, id]) => hook === 'poolDeleting' && id === 'full'));
    const pk = (await b.pool('full')).pk;
    assert.equal(await b.store.tx(async () => await finishPoolDeletion(b.ctx(), pk)), false);
    await b.store.tx(async () => await b.store.nodes.delete(pk, n!.id));
    assert.equal(await b.store.tx(async () => await finishPoolDeletion(b.ctx(), pk)), true);
    assert.equal(await b.store.pools.get('unit', 'full'), undefined);
  });

  it('beginDeallocation defaults to requeue', () => {
    const node = { id: 'n' } as ComputeNode;
    beginDeallocation(node, 'reboot', undefined);
    assert.deepEqual(pendingDeallocation(node), { operation: 'reboot', option: 'requeue' });
  });
});

describe('resize timeouts (timeOutResizes, on an injected clock)', () => {
  const b = unitBatch();
  after(() => b.close());
  const { state, makeNodes, join } = poolOps(b);

  it('timeOutResizes: wakes at the earliest deadline; at it, drops nodes that never joined, keeps the rest', async () => {
    b.at(0);
    await addPool(b.ctx(), { id: 'late', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM, targetDedicatedNodes: 2, resizeTimeout: 'PT10M' });
    await addPool(b.ctx(), { id: 'early', vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM, targetDedicatedNodes: 1, resizeTimeout: 'PT5M' });
    const [joins, never] = await makeNodes('late', 2);
    await join('late', joins!);
    assert.deepEqual(await timeOutResizes(b.ctx()), { timedOut: [], wakeAt: T0 + 5 * MIN });
    b.at(5 * MIN);
    assert.deepEqual(await timeOutResizes(b.ctx()), { timedOut: ['early'], wakeAt: T0 + 10 * MIN });
    assert.deepEqual(await state('early'), { allocation: 'steady', current: [0, 0], target: [0, 0] });
    assert.deepEqual(
      (await b.pool('early')).doc.resizeErrors?.map((e) => e.code),
      ['AllocationTimedout'],
    );
    b.at(10 * MIN - 1);
    assert.deepEqual((await timeOutResizes(b.ctx())).timedOut, []);
    b.at(10 * MIN);
    assert.deepEqual(await timeOutResizes(b.ctx()), { timedOut: ['late'] });
    assert.deepEqual(await state('late'), { allocation: 'steady', current: [1, 0], target: [1, 0] });
    assert.deepEqual(
      (await b.nodes('late')).map((n) => n.id),
      [joins!.id],
    );
    assert.ok(!(await b.nodes('late')).some((n) => n.id === never!.id));
    assert.deepEqual(await timeOutResizes(b.ctx()), { timedOut: [] }, 'nothing left to time out');
  });
});
