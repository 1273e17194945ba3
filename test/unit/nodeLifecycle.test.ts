import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { addJob } from '../../src/domain/batch/jobs/addJob.js';
import type { ComputeNode } from '../../src/domain/batch/models.js';
import { beginDeallocation, drainsTasks, letsTasksFinish, pendingDeallocation, retainedUntil, retentionEnds } from '../../src/domain/batch/nodes/deallocation.js';
import { newNodeDoc, newNodeId, nodeJoined, nodeLost, setNodeLoad, setNodeState, startTaskEnded, type StartTaskInfo } from '../../src/domain/batch/nodes/lifecycle.js';
import { PENDING_DISABLE, poolNodeCounts, rebootNode, reimageNode, setScheduling } from '../../src/domain/batch/nodes/nodeOperations.js';
import type { Json } from '../../src/domain/batch/schema/validate.js';
import { addTask } from '../../src/domain/batch/tasks/addTasks.js';
import { completeTask } from '../../src/domain/batch/tasks/completeTask.js';
import { assignTask } from '../../src/domain/batch/tasks/dispatch.js';
import { iso, MIN, refusal, settle, T0, unitBatch } from './helpers.js';

describe('node lifecycle', () => {
  const b = unitBatch();
  after(() => b.close());
  const node = async (poolId: string, id: string) => (await b.nodes(poolId)).find((n) => n.id === id)!;
  /** A node record made for the pool (`creating`), then joined by its agent. */
  const created = async (poolId: string, spec: Json = {}) => {
    await b.poolWithNodes(poolId, 0, spec as Record<string, Json>);
    return await b.store.tx(async () => {
      const { pk, doc } = await b.pool(poolId);
      const n = newNodeDoc(b.ctx(), doc, `tvm-${poolId}`, true);
      await b.store.nodes.insert(pk, n);
      return n;
    });
  };
  const join = async (poolId: string, n: ComputeNode) => await b.store.tx(async () => await nodeJoined(b.ctx(), (await b.pool(poolId)).pk, (await b.pool(poolId)).doc, n));
  const startTaskDone = async (poolId: string, id: string, outcome: { exitCode?: number; failureInfo?: { category: 'usererror'; code: string } }) =>
    await b.store.tx(async () => await startTaskEnded(b.ctx(), (await b.pool(poolId)).pk, await node(poolId, id), { startTime: iso(0), ...outcome }));

  it("node ids look like Azure's: tvm-<digits>_<n>-<creation time>", () => {
    assert.match(newNodeId(new Date(T0), 3), /^tvm-\d{1,10}_3-20300301t100000z$/);
    assert.notEqual(newNodeId(new Date(T0), 0), newNodeId(new Date(T0), 0));
  });

  it('a new node is creating; joined without a start task it is idle, counters reset', async () => {
    b.at(0);
    const n = await created('plain');
    assert.equal(n.state, 'creating');
    assert.equal(n.schedulingState, 'enabled');
    n.runningTasksCount = 3;
    b.at(MIN);
    await join('plain', n);
    const joined = await node('plain', n.id);
    assert.equal(joined.state, 'idle');
    assert.equal(joined.previousState, 'starting');
    assert.equal(joined.stateTransitionTime, iso(MIN));
    assert.equal(joined['lastBootTime'], iso(MIN));
    assert.equal(joined.runningTasksCount, 0);
    assert.equal(joined['startTaskInfo'], undefined);
  });

  it('with a start task that must succeed it waits; retries as maxTaskRetryCount allows; then fails the node', async () => {
    const n = await created('st', { startTask: { commandLine: 'false', maxTaskRetryCount: 2 } });
    await join('st', n);
    assert.equal((await node('st', n.id)).state, 'waitingforstarttask');
    assert.equal(((await node('st', n.id))['startTaskInfo'] as StartTaskInfo).state, 'running');
    assert.equal(await startTaskDone('st', n.id, { exitCode: 1 }), true, 'first retry');
    assert.equal(await startTaskDone('st', n.id, { exitCode: 1 }), true, 'second retry');
    assert.equal(((await node('st', n.id))['startTaskInfo'] as StartTaskInfo).retryCount, 2);
    assert.equal((await node('st', n.id)).state, 'waitingforstarttask');
    assert.equal(await startTaskDone('st', n.id, { exitCode: 1 }), false, 'no retry left');
    const failed = await node('st', n.id);
    assert.equal(failed.state, 'starttaskfailed');
    const info = failed['startTaskInfo'] as StartTaskInfo;
    assert.deepEqual([info.state, info.result, info.exitCode], ['completed', 'failure', 1]);
  });

  it('a start task that succeeds, or one not waited for, leaves the node idle', async () => {
    const ok = await created('stok', { startTask: { commandLine: 'true' } });
    await join('stok', ok);
    assert.equal(await startTaskDone('stok', ok.id, { exitCode: 0 }), false);
    assert.equal((await node('stok', ok.id)).state, 'idle');
    assert.equal(((await node('stok', ok.id))['startTaskInfo'] as StartTaskInfo).result, 'success');

    const free = await created('stfree', { startTask: { commandLine: 'false', waitForSuccess: false } });
    await join('stfree', free);
    assert.equal((await node('stfree', free.id)).state, 'idle', 'takes tasks while its start task runs');
    assert.equal(await startTaskDone('stfree', free.id, { failureInfo: { category: 'usererror', code: 'ResourceFileDownloadFailed' } }), false);
    assert.equal((await node('stfree', free.id)).state, 'idle', 'its failure does not fail the node');
    assert.equal(((await node('stfree', free.id))['startTaskInfo'] as StartTaskInfo).result, 'failure');
  });

  it('load: running while it runs tasks, idle after, counting what ran and succeeded', async () => {
    const [n] = await b.poolWithNodes('load', 1, { taskSlotsPerNode: 4 });
    const pk = (await b.pool('load')).pk;
    await b.store.tx(async () => await setNodeLoad(b.ctx(), pk, await node('load', n!.id), 2, 3, { run: 0, succeeded: 0 }));
    assert.deepEqual(pick(await node('load', n!.id)), { state: 'running', tasks: 2, slots: 3, run: 0, succeeded: 0 });
    await b.store.tx(async () => await setNodeLoad(b.ctx(), pk, await node('load', n!.id), 0, 0, { run: 2, succeeded: 1 }));
    assert.deepEqual(pick(await node('load', n!.id)), { state: 'idle', tasks: 0, slots: 0, run: 2, succeeded: 1 });
  });

  it('a node draining for taskcompletion is told of when its last task ends, once that commits', async () => {
    const [n] = await b.poolWithNodes('drain', 1);
    const pk = (await b.pool('drain')).pk;
    await b.store.tx(async () => await setNodeLoad(b.ctx(), pk, await node('drain', n!.id), 1, 1, { run: 0, succeeded: 0 }));
    await rebootNode(b.ctx(), 'drain', n!.id, { nodeRebootOption: 'taskcompletion' });
    assert.equal((await node('drain', n!.id)).state, 'rebooting');
    assert.equal(drainsTasks(await node('drain', n!.id)), true);
    const before = b.hooks.length;
    await b.store.tx(async () => {
      await setNodeLoad(b.ctx(), pk, await node('drain', n!.id), 0, 0, { run: 1, succeeded: 1 });
      await settle();
      assert.equal(b.hooks.length, before, 'not inside the transaction');
    });
    assert.deepEqual(b.hooks.slice(before), [['nodeChanged', n!.id]]);
  });

  it('a lost node is unusable and runs nothing', async () => {
    const [n] = await b.poolWithNodes('lost', 1);
    await b.store.tx(async () => await setNodeLoad(b.ctx(), (await b.pool('lost')).pk, await node('lost', n!.id), 1, 1, { run: 0, succeeded: 0 }));
    await b.store.tx(async () => await nodeLost(b.ctx(), (await b.pool('lost')).pk, await node('lost', n!.id)));
    assert.deepEqual(pick(await node('lost', n!.id)), { state: 'unusable', tasks: 0, slots: 0, run: 0, succeeded: 0 });
    assert.equal((await node('lost', n!.id)).previousState, 'running');
  });

  it('reboot and reimage: the state at once, the option kept; refused while one is under way or the node is not up', async () => {
    const [r, i] = await b.poolWithNodes('ops', 2);
    await rebootNode(b.ctx(), 'ops', r!.id, {});
    assert.equal((await node('ops', r!.id)).state, 'rebooting');
    assert.deepEqual(pendingDeallocation(await node('ops', r!.id)), { operation: 'reboot', option: 'requeue' });
    await assert.rejects(async () => await rebootNode(b.ctx(), 'ops', r!.id, {}), refusal(409, 'NodeBeingRebooted'));
    await assert.rejects(async () => await reimageNode(b.ctx(), 'ops', r!.id, {}), refusal(409, 'NodeBeingRebooted'));
    await reimageNode(b.ctx(), 'ops', i!.id, { nodeReimageOption: 'terminate' });
    assert.equal((await node('ops', i!.id)).state, 'reimaging');
    await assert.rejects(async () => await rebootNode(b.ctx(), 'ops', i!.id, {}), refusal(409, 'NodeBeingReimaged'));
    assert.ok(b.hooks.some(([h, id]) => h === 'nodeChanged' && id === i!.id));
    // Joining again ends the operation.
    await join('ops', await node('ops', r!.id));
    assert.equal((await node('ops', r!.id)).state, 'idle');
    assert.equal(pendingDeallocation(await node('ops', r!.id)), undefined);

    const creating = await created('opscreating');
    await assert.rejects(async () => await rebootNode(b.ctx(), 'opscreating', creating.id, {}), refusal(409, 'OperationInvalidForCurrentState'));
    await assert.rejects(async () => await rebootNode(b.ctx(), 'ops', 'tvm-nope', {}), refusal(404, 'NodeNotFound'));
    await assert.rejects(async () => await rebootNode(b.ctx(), 'nope', r!.id, {}), refusal(404, 'PoolNotFound'));
  });

  it('disablescheduling keeps its option for the cluster; enablescheduling clears it', async () => {
    const [n] = await b.poolWithNodes('sched', 1);
    await setScheduling(b.ctx(), 'sched', n!.id, false, { nodeDisableSchedulingOption: 'taskcompletion' });
    assert.equal((await node('sched', n!.id)).schedulingState, 'disabled');
    assert.equal((await node('sched', n!.id))[PENDING_DISABLE], 'taskcompletion');
    await setScheduling(b.ctx(), 'sched', n!.id, true, {});
    assert.equal((await node('sched', n!.id)).schedulingState, 'enabled');
    assert.equal((await node('sched', n!.id))[PENDING_DISABLE], undefined);
  });

  it('node counts per pool, by state, dedicated and low-priority apart', async () => {
    await b.poolWithNodes('counted', 2);
    await b.poolWithNodes('counted-spot', 1, {}, { lowPriority: true });
    const counts = await poolNodeCounts(b.ctx());
    const dedicated = counts.find((c) => c.poolId === 'counted')!;
    assert.equal(dedicated.dedicated['idle'], 2);
    assert.equal(dedicated.dedicated['total'], 2);
    assert.equal(dedicated.lowPriority['total'], 0);
    const spot = counts.find((c) => c.poolId === 'counted-spot')!;
    assert.deepEqual([spot.lowPriority['idle'], spot.dedicated['total']], [1, 0]);
    const [failed] = await b.poolWithNodes('counted-failed', 1);
    await b.store.tx(async () => await setNodeState(b.ctx(), (await b.pool('counted-failed')).pk, failed!, 'starttaskfailed'));
    const st = (await poolNodeCounts(b.ctx())).find((c) => c.poolId === 'counted-failed')!;
    assert.deepEqual([st.dedicated['startTaskFailed'], st.dedicated['idle']], [1, 0], "Azure's camel-cased key");
  });
});

describe('node deallocation and retained data', () => {
  const b = unitBatch();
  after(() => b.close());

  it('taskcompletion and retaineddata let tasks finish; requeue and terminate do not', () => {
    assert.deepEqual(
      ['requeue', 'terminate', 'taskcompletion', 'retaineddata'].map((o) => letsTasksFinish(o as never)),
      [false, false, true, true],
    );
    const n = { id: 'n' } as ComputeNode;
    assert.equal(drainsTasks(n), false);
    beginDeallocation(n, 'remove', 'retaineddata');
    assert.equal(drainsTasks(n), true);
    assert.equal(retainedUntil(n), undefined);
  });

  it("the data of a node's tasks is kept until the latest retentionTime of its completed tasks (7 days by default)", async () => {
    const [n, other] = await b.poolWithNodes('keep', 2, { taskSlotsPerNode: 2 });
    await addJob(b.ctx(), { id: 'j', poolInfo: { poolId: 'keep' } });
    const run = async (taskId: string, on: ComputeNode, endAt: number, retentionTime?: string) => {
      await addTask(b.ctx(), 'j', { id: taskId, commandLine: 'true', ...(retentionTime ? { constraints: { retentionTime } } : {}) });
      await b.store.tx(async () => {
        const { pk, doc } = await b.job('j');
        await assignTask(b.ctx(), pk, doc, await b.task('j', taskId), {
          nodeId: on.id,
          poolId: 'keep',
          affinityId: 'x',
          nodeUrl: 'x',
          taskRootDirectory: 'x',
          taskRootDirectoryUrl: 'x',
        });
        b.at(endAt);
        await completeTask(b.ctx(), pk, doc, await b.task('j', taskId), { exitCode: 0 });
      });
    };
    assert.equal(await retentionEnds(b.ctx(), (await b.pool('keep')).doc, n!.id), 0, 'nothing ran there');
    await run('short', n!, 0, 'PT1H');
    assert.equal(await retentionEnds(b.ctx(), (await b.pool('keep')).doc, n!.id), T0 + 60 * MIN);
    await run('default', n!, MIN);
    assert.equal(await retentionEnds(b.ctx(), (await b.pool('keep')).doc, n!.id), T0 + MIN + 7 * 24 * 60 * MIN);
    await run('elsewhere', other!, 2 * MIN, 'P30D');
    assert.equal(await retentionEnds(b.ctx(), (await b.pool('keep')).doc, n!.id), T0 + MIN + 7 * 24 * 60 * MIN, "another node's tasks do not count");
  });
});

function pick(n: ComputeNode) {
  return { state: n.state, tasks: n.runningTasksCount, slots: n.runningTaskSlotsCount, run: n.totalTasksRun, succeeded: n.totalTasksSucceeded };
}
