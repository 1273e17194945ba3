import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { addJob } from '../../src/domain/batch/jobs/addJob.js';
import { disableJob } from '../../src/domain/batch/jobs/disableJob.js';
import { nodeTaskEnded, nodeTaskStarted } from '../../src/domain/batch/jobs/nodeTaskStatus.js';
import type { CloudJob, CloudPool, CloudTask, ComputeNode } from '../../src/domain/batch/models.js';
import { newNodeDoc, nodeLost, setNodeState } from '../../src/domain/batch/nodes/lifecycle.js';
import { setScheduling } from '../../src/domain/batch/nodes/nodeOperations.js';
import { deletePool } from '../../src/domain/batch/pools/deletePool.js';
import type { Json } from '../../src/domain/batch/schema/validate.js';
import { addTask } from '../../src/domain/batch/tasks/addTasks.js';
import { completeTask } from '../../src/domain/batch/tasks/completeTask.js';
import { assignTask, retryTask } from '../../src/domain/batch/tasks/dispatch.js';
import {
  allowsLowPriority,
  dependenciesMet,
  fitsPool,
  jobAcceptsTasks,
  nodeAcceptsTasks,
  nodeIsUp,
  runsExclusive,
  slotsNeeded,
  withinParallelLimit,
} from '../../src/scheduler/feasibility.js';
import { pickNode } from '../../src/scheduler/ranking.js';
import { isActiveDoc, WAITING_REASON, WaitingReasons, withWaitingReason } from '../../src/scheduler/waitingReason.js';
import { unitBatch } from './helpers.js';

const job = (extra: Partial<CloudJob> = {}) => ({ state: 'active', maxParallelTasks: -1, ...extra }) as CloudJob;
const pool = (slots: number) => ({ id: 'p', taskSlotsPerNode: slots }) as CloudPool;
const task = (extra: Record<string, unknown> = {}) => ({ id: 't', requiredSlots: 1, ...extra }) as CloudTask;
const node = (state: string, schedulingState = 'enabled') => ({ state, schedulingState }) as ComputeNode;

describe('scheduler feasibility', () => {
  it('a job takes tasks only while active, and says why not', () => {
    assert.deepEqual(jobAcceptsTasks(job()), { ok: true });
    for (const state of ['disabled', 'disabling'] as const) assert.match((jobAcceptsTasks(job({ state })) as { reason: string }).reason, /^JobDisabled:/);
    for (const state of ['terminating', 'completed', 'deleting', 'enabling'] as const) {
      assert.equal((jobAcceptsTasks(job({ state })) as { reason: string }).reason, `JobNotActive: the job is ${state}.`);
    }
  });

  it('maxParallelTasks bounds the running tasks; -1 is no bound', () => {
    assert.equal(withinParallelLimit(job(), 1e6).ok, true);
    assert.equal(withinParallelLimit(job({ maxParallelTasks: 2 }), 1).ok, true);
    const full = withinParallelLimit(job({ maxParallelTasks: 2 }), 2);
    assert.deepEqual(full, { ok: false, reason: 'MaxParallelTasksReached: the job already runs 2 of at most 2 tasks at a time.' });
  });

  it('a task fits a pool whose nodes have its slots; an exclusive job manager takes every slot', () => {
    assert.equal(fitsPool(pool(4), task({ requiredSlots: 4 })).ok, true);
    assert.match((fitsPool(pool(4), task({ requiredSlots: 5 })) as { reason: string }).reason, /^CannotRun: the task needs 5 task slots, but nodes of pool p have 4/);
    assert.equal(slotsNeeded(pool(4), task({ requiredSlots: 2 })), 2);
    assert.equal(slotsNeeded(pool(4), task({ jobManager: true })), 4);
    assert.equal(slotsNeeded(pool(4), task({ jobManager: true, runExclusive: false, requiredSlots: 2 })), 2);
    assert.equal(runsExclusive(task({ runExclusive: true })), false, 'only a job manager task runs exclusively');
    assert.equal(runsExclusive(task({ jobManager: true })), true);
    assert.equal(allowsLowPriority(task({ allowLowPriorityNode: false })), true, 'only a job manager task can refuse low-priority nodes');
    assert.equal(allowsLowPriority(task({ jobManager: true, allowLowPriorityNode: false })), false);
    assert.equal(allowsLowPriority(task({ jobManager: true })), true);
  });

  it('a node takes tasks when idle or running with scheduling enabled', () => {
    for (const state of ['idle', 'running']) {
      assert.equal(nodeIsUp(node(state)), true);
      assert.equal(nodeAcceptsTasks(node(state)), true);
      assert.equal(nodeAcceptsTasks(node(state, 'disabled')), false);
    }
    for (const state of ['creating', 'starting', 'waitingforstarttask', 'starttaskfailed', 'unusable', 'leavingpool', 'rebooting', 'offline']) {
      assert.equal(nodeIsUp(node(state)), false, state);
    }
  });
});

describe('scheduler ranking (pickNode)', () => {
  const candidates = () => [
    { node: 'a', free: 1 },
    { node: 'b', free: 3 },
    { node: 'c', free: 2 },
    { node: 'd', free: 3 },
  ];
  it('spread gives a task to the least loaded node (the first of equals)', () => {
    assert.equal(pickNode(candidates(), 1, 'spread')?.node, 'b');
    assert.equal(pickNode(candidates(), 3, 'spread')?.node, 'b');
  });
  it('pack gives it to the fullest node that still fits', () => {
    assert.equal(pickNode(candidates(), 1, 'pack')?.node, 'a');
    assert.equal(pickNode(candidates(), 2, 'pack')?.node, 'c');
    assert.equal(pickNode(candidates(), 3, 'pack')?.node, 'b');
  });
  it('no node when none has the slots', () => {
    assert.equal(pickNode(candidates(), 4, 'spread'), undefined);
    assert.equal(pickNode(candidates(), 4, 'pack'), undefined);
    assert.equal(pickNode([], 1, 'spread'), undefined);
  });
});

describe('task dependencies (dependenciesMet, on the store)', async () => {
  const b = unitBatch();
  after(() => b.close());
  await addJob(b.ctx(), { id: 'j', poolInfo: { poolId: 'p' }, usesTaskDependencies: true });
  const add = async (body: Json) => await addTask(b.ctx(), 'j', body);
  const complete = async (id: string, exitCode: number) =>
    await b.store.tx(async () => {
      const { pk, doc } = await b.job('j');
      await completeTask(b.ctx(), pk, doc, await b.task('j', id), { exitCode });
    });
  const met = async (dependsOn: Json) => await dependenciesMet(b.store, (await b.job('j')).pk, { id: 'x', dependsOn } as unknown as CloudTask);
  for (const id of ['A', '1', '2', '3', '5', '07', 'fails', 'fine']) await add({ id, commandLine: 'true' });
  await add({ id: 'tolerated', commandLine: 'true', exitConditions: { exitCodes: [{ code: 9, exitOptions: { dependencyAction: 'satisfy' } }] } });
  await add({ id: 'blocker', commandLine: 'true', exitConditions: { exitCodes: [{ code: 0, exitOptions: { dependencyAction: 'block' } }] } });

  it('by id, without case: waits for a missing or unfinished task, names it as the dependent does', async () => {
    assert.deepEqual(await met({ taskIds: ['a', 'nope'] }), { ok: false, reason: 'WaitingForDependencies: task nope does not exist yet.' });
    assert.deepEqual(await met({ taskIds: ['a'] }), { ok: false, reason: 'WaitingForDependencies: task a is active.' });
    await complete('A', 0);
    assert.deepEqual(await met({ taskIds: ['a', 'A'] }), { ok: true });
  });

  it('a failure blocks dependents unless its exit options satisfy them; a success can block too', async () => {
    await complete('fails', 1);
    await complete('fine', 0);
    await complete('tolerated', 9);
    await complete('blocker', 0);
    assert.deepEqual(await met({ taskIds: ['fine', 'fails'] }), { ok: false, reason: 'BlockedByDependency: task fails failed, which blocks its dependents.' });
    assert.deepEqual(await met({ taskIds: ['tolerated', 'fine'] }), { ok: true });
    assert.equal((await met({ taskIds: ['blocker'] })).ok, false);
  });

  it('by range: every number in it must be a task (07 is not 7), ranges merged', async () => {
    await complete('1', 0);
    await complete('2', 0);
    assert.deepEqual(await met({ taskIdRanges: [{ start: 1, end: 2 }] }), { ok: true });
    assert.deepEqual(await met({ taskIdRanges: [{ start: 1, end: 3 }] }), { ok: false, reason: 'WaitingForDependencies: task 3 is active.' });
    await complete('3', 0);
    assert.deepEqual(
      await met({
        taskIdRanges: [
          { start: 2, end: 3 },
          { start: 1, end: 2 },
        ],
      }),
      { ok: true },
    );
    assert.deepEqual(await met({ taskIdRanges: [{ start: 3, end: 5 }] }), { ok: false, reason: 'WaitingForDependencies: task 4 does not exist yet.' });
    assert.deepEqual(await met({ taskIdRanges: [{ start: 6, end: 8 }] }), { ok: false, reason: 'WaitingForDependencies: task 6 does not exist yet.' });
    assert.deepEqual(await met({ taskIdRanges: [{ start: 7, end: 7 }] }), { ok: false, reason: 'WaitingForDependencies: task 7 does not exist yet.' });
    assert.deepEqual(await met({ taskIdRanges: [{ start: 0, end: 2_147_483_647 }] }), { ok: false, reason: 'WaitingForDependencies: task 0 does not exist yet.' });
  });
});

describe('why a task waits (WaitingReasons)', () => {
  const b = unitBatch();
  after(() => b.close());
  const reason = async (jobId: string, taskId: string) => {
    const { pk, doc } = await b.job(jobId);
    return await new WaitingReasons(b.store, 'unit').of(pk, doc, await b.task(jobId, taskId));
  };
  /** A job on `poolId` with one plain task `t` (and what else `job` says). */
  const jobWithTask = async (id: string, poolId: string, jobSpec: Json = {}, taskSpec: Json = {}) => {
    await addJob(b.ctx(), { id, poolInfo: { poolId }, ...(jobSpec as object) });
    await addTask(b.ctx(), id, { id: 't', commandLine: 'true', ...(taskSpec as object) });
  };
  const assignToNode = async (jobId: string, taskId: string, nodeId: string) =>
    await b.store.tx(async () => {
      const { pk, doc } = await b.job(jobId);
      await assignTask(b.ctx(), pk, doc, await b.task(jobId, taskId), { nodeId, poolId: 'busy', affinityId: 'x', nodeUrl: 'x', taskRootDirectory: 'x', taskRootDirectoryUrl: 'x' });
    });
  const setNode = async (poolId: string, n: ComputeNode, change: (pk: number) => void) => await b.store.tx(async () => change((await b.pool(poolId)).pk));

  it('not for a task that is not active', async () => {
    const [n] = await b.poolWithNodes('done', 1);
    await jobWithTask('jdone', 'done');
    await assignToNode('jdone', 't', n!.id);
    assert.equal(await reason('jdone', 't'), undefined);
  });

  it('the job: disabled, or not active, before anything else', async () => {
    await jobWithTask('jdisabled', 'nowhere');
    await disableJob(b.ctx(), 'jdisabled', { disableTasks: 'requeue' });
    assert.match((await reason('jdisabled', 't'))!, /^JobDisabled:/);
  });

  it('its dependencies, then its pool: missing, being deleted, too small for it', async () => {
    await jobWithTask('jdeps', 'nowhere', { usesTaskDependencies: true }, { dependsOn: { taskIds: ['later'] } });
    assert.equal(await reason('jdeps', 't'), 'WaitingForDependencies: task later does not exist yet.');
    await jobWithTask('jghost', 'ghost');
    assert.equal(await reason('jghost', 't'), 'PoolNotFound: pool ghost does not exist.');
    await b.poolWithNodes('doomed', 1);
    await deletePool(b.ctx(), 'doomed');
    await jobWithTask('jdoomed', 'doomed');
    assert.equal(await reason('jdoomed', 't'), 'PoolBeingDeleted: pool doomed is being deleted.');
    await b.poolWithNodes('small', 1);
    await jobWithTask('jbig', 'small', {}, { requiredSlots: 2 });
    assert.match((await reason('jbig', 't'))!, /^CannotRun: the task needs 2 task slots, but nodes of pool small have 1/);
  });

  it("the pool's nodes: none, failed, starting, unusable, not scheduling", async () => {
    await b.poolWithNodes('empty', 0);
    await jobWithTask('jempty', 'empty');
    assert.match((await reason('jempty', 't'))!, /^NoNodes: pool empty has no compute nodes; resize it/);
    await b.store.tx(async () => {
      const { doc } = await b.pool('empty');
      await b.store.pools.update('unit', { ...doc, enableAutoScale: true });
    });
    assert.match((await reason('jempty', 't'))!, /autoscale formula sets how many/);

    const failed = await b.poolWithNodes('failed', 2);
    for (const n of failed) await setNode('failed', n, async (pk) => await setNodeState(b.ctx(), pk, n, 'starttaskfailed'));
    await jobWithTask('jfailed', 'failed');
    assert.match((await reason('jfailed', 't'))!, /^StartTaskFailed:/);

    // One failed, one still coming: the pool is starting, not failed.
    await b.store.tx(async () => {
      const { pk, doc } = await b.pool('failed');
      await b.store.nodes.insert(pk, newNodeDoc(b.ctx(), doc, 'tvm-coming', true));
    });
    assert.match((await reason('jfailed', 't'))!, /^NodesStarting:/);

    const lost = await b.poolWithNodes('lost', 2);
    await setNode('lost', lost[0]!, async (pk) => await nodeLost(b.ctx(), pk, lost[0]!));
    await setNode('lost', lost[1]!, async (pk) => await setNodeState(b.ctx(), pk, lost[1]!, 'offline'));
    await jobWithTask('jlost', 'lost');
    assert.match((await reason('jlost', 't'))!, /^NoUsableNode: no node of pool lost can take tasks \((1 unusable, 1 offline|1 offline, 1 unusable)\)\.$/);

    const [off] = await b.poolWithNodes('off', 1);
    await setScheduling(b.ctx(), 'off', off!.id, false, {});
    await jobWithTask('joff', 'off');
    assert.match((await reason('joff', 't'))!, /^NodeSchedulingDisabled:/);
  });

  it("the job's preparation task failed on every node; no dedicated node for a job manager that wants one", async () => {
    const [n] = await b.poolWithNodes('prep', 1);
    await jobWithTask('jprep', 'prep', { jobPreparationTask: { commandLine: 'false' } });
    const ref = { poolId: 'prep', nodeId: n!.id, nodeUrl: 'x' };
    await b.store.tx(async () => {
      const { pk, doc } = await b.job('jprep');
      await nodeTaskStarted(b.ctx(), pk, doc, ref, 'jobPreparationTaskExecutionInfo');
      await nodeTaskEnded(b.ctx(), pk, ref, 'jobPreparationTaskExecutionInfo', { exitCode: 1, startTime: doc.creationTime, endTime: doc.creationTime });
    });
    assert.match((await reason('jprep', 't'))!, /^JobPreparationTaskFailed:/);

    await b.poolWithNodes('spot', 1, {}, { lowPriority: true });
    await addJob(b.ctx(), { id: 'jspot', poolInfo: { poolId: 'spot' }, jobManagerTask: { id: 'jm', commandLine: 'true', allowLowPriorityNode: false } });
    assert.match((await reason('jspot', 'jm'))!, /^NoDedicatedNode:/);
  });

  it('passing causes last: the parallel limit, a retry, an exclusive job manager, busy slots', async () => {
    const [busy] = await b.poolWithNodes('busy', 1, { taskSlotsPerNode: 2 });
    await jobWithTask('jpar', 'busy', { maxParallelTasks: 1 });
    await addTask(b.ctx(), 'jpar', { id: 'u', commandLine: 'true' });
    await assignToNode('jpar', 't', busy!.id);
    assert.equal(await reason('jpar', 'u'), 'MaxParallelTasksReached: the job already runs 1 of at most 1 tasks at a time.');

    await jobWithTask('jretry', 'busy', {}, { constraints: { maxTaskRetryCount: 1 } });
    await assignToNode('jretry', 't', busy!.id);
    await b.store.tx(async () => assert.equal(await retryTask(b.ctx(), (await b.job('jretry')).pk, await b.task('jretry', 't')), true));
    assert.equal(await reason('jretry', 't'), 'Retrying: run 2 waits for a free slot.');

    await addJob(b.ctx(), { id: 'jjm', poolInfo: { poolId: 'busy' }, jobManagerTask: { id: 'jm', commandLine: 'true' } });
    assert.match((await reason('jjm', 'jm'))!, /^NoFreeNode: the job manager task runs exclusively/);

    await jobWithTask('jslot', 'busy');
    await addTask(b.ctx(), 'jslot', { id: 'two', commandLine: 'true', requiredSlots: 2 });
    assert.equal(await reason('jslot', 't'), 'NoFreeSlot: every node of pool busy that can run the task is busy; it runs when a slot frees.');
    assert.match((await reason('jslot', 'two'))!, /it runs when 2 slots free on one node\.$/);
  });
});

describe('withWaitingReason', () => {
  it('adds the reason to a task document; only active documents are asked for one', () => {
    const active = JSON.stringify({ id: 't', state: 'active' });
    const out = JSON.parse(withWaitingReason(active, 'NoFreeSlot: "busy"')) as unknown;
    assert.deepEqual(out, { id: 't', state: 'active', [WAITING_REASON]: 'NoFreeSlot: "busy"' });
    assert.equal(withWaitingReason(active, undefined), active);
    assert.equal(isActiveDoc(active), true);
    assert.equal(isActiveDoc(JSON.stringify({ id: 't', state: 'running' })), false);
  });
});
