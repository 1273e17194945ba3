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
  const node = (poolId: string, id: string) => b.nodes(poolId).find((n) => n.id === id)!;
  /** A node record made for the pool (`creating`), then joined by its agent. */
  const created = (poolId: string, spec: Json = {}) => {
    b.poolWithNodes(poolId, 0, spec as Record<string, Json>);
    return b.store.tx(() => {
      const { pk, doc } = b.pool(poolId);
      const n = newNodeDoc(b.ctx(), doc, `tvm-${poolId}`, true);
      b.store.nodes.insert(pk, n);
      return n;
    });
  };
  const join = (poolId: string, n: ComputeNode) => b.store.tx(() => nodeJoined(b.ctx(), b.pool(poolId).pk, b.pool(poolId).doc, n));
  const startTaskDone = (poolId: string, id: string, outcome: { exitCode?: number; failureInfo?: { category: 'usererror'; code: string } }) =>
    b.store.tx(() => startTaskEnded(b.ctx(), b.pool(poolId).pk, node(poolId, id), { startTime: iso(0), ...outcome }));

  it("node ids look like Azure's: tvm-<digits>_<n>-<creation time>", () => {
    assert.match(newNodeId(new Date(T0), 3), /^tvm-\d{1,10}_3-20300301t100000z$/);
    assert.notEqual(newNodeId(new Date(T0), 0), newNodeId(new Date(T0), 0));
  });

  it('a new node is creating; joined without a start task it is idle, counters reset', () => {
    b.at(0);
    const n = created('plain');
    assert.equal(n.state, 'creating');
    assert.equal(n.schedulingState, 'enabled');
    n.runningTasksCount = 3;
    b.at(MIN);
    join('plain', n);
    const joined = node('plain', n.id);
    assert.equal(joined.state, 'idle');
    assert.equal(joined.previousState, 'starting');
    assert.equal(joined.stateTransitionTime, iso(MIN));
    assert.equal(joined['lastBootTime'], iso(MIN));
    assert.equal(joined.runningTasksCount, 0);
    assert.equal(joined['startTaskInfo'], undefined);
  });

  it('with a start task that must succeed it waits; retries as maxTaskRetryCount allows; then fails the node', () => {
    const n = created('st', { startTask: { commandLine: 'false', maxTaskRetryCount: 2 } });
    join('st', n);
    assert.equal(node('st', n.id).state, 'waitingforstarttask');
    assert.equal((node('st', n.id)['startTaskInfo'] as StartTaskInfo).state, 'running');
    assert.equal(startTaskDone('st', n.id, { exitCode: 1 }), true, 'first retry');
    assert.equal(startTaskDone('st', n.id, { exitCode: 1 }), true, 'second retry');
    assert.equal((node('st', n.id)['startTaskInfo'] as StartTaskInfo).retryCount, 2);
    assert.equal(node('st', n.id).state, 'waitingforstarttask');
    assert.equal(startTaskDone('st', n.id, { exitCode: 1 }), false, 'no retry left');
    const failed = node('st', n.id);
    assert.equal(failed.state, 'starttaskfailed');
    const info = failed['startTaskInfo'] as StartTaskInfo;
    assert.deepEqual([info.state, info.result, info.exitCode], ['completed', 'failure', 1]);
  });

  it('a start task that succeeds, or one not waited for, leaves the node idle', () => {
    const ok = created('stok', { startTask: { commandLine: 'true' } });
    join('stok', ok);
    assert.equal(startTaskDone('stok', ok.id, { exitCode: 0 }), false);
    assert.equal(node('stok', ok.id).state, 'idle');
    assert.equal((node('stok', ok.id)['startTaskInfo'] as StartTaskInfo).result, 'success');

    const free = created('stfree', { startTask: { commandLine: 'false', waitForSuccess: false } });
    join('stfree', free);
    assert.equal(node('stfree', free.id).state, 'idle', 'takes tasks while its start task runs');
    assert.equal(startTaskDone('stfree', free.id, { failureInfo: { category: 'usererror', code: 'ResourceFileDownloadFailed' } }), false);
    assert.equal(node('stfree', free.id).state, 'idle', 'its failure does not fail the node');
    assert.equal((node('stfree', free.id)['startTaskInfo'] as StartTaskInfo).result, 'failure');
  });

  it('load: running while it runs tasks, idle after, counting what ran and succeeded', () => {
    const [n] = b.poolWithNodes('load', 1, { taskSlotsPerNode: 4 });
    const pk = b.pool('load').pk;
    b.store.tx(() => setNodeLoad(b.ctx(), pk, node('load', n!.id), 2, 3, { run: 0, succeeded: 0 }));
    assert.deepEqual(pick(node('load', n!.id)), { state: 'running', tasks: 2, slots: 3, run: 0, succeeded: 0 });
    b.store.tx(() => setNodeLoad(b.ctx(), pk, node('load', n!.id), 0, 0, { run: 2, succeeded: 1 }));
    assert.deepEqual(pick(node('load', n!.id)), { state: 'idle', tasks: 0, slots: 0, run: 2, succeeded: 1 });
  });

  it('a node draining for taskcompletion is told of when its last task ends, once that commits', async () => {
    const [n] = b.poolWithNodes('drain', 1);
    const pk = b.pool('drain').pk;
    b.store.tx(() => setNodeLoad(b.ctx(), pk, node('drain', n!.id), 1, 1, { run: 0, succeeded: 0 }));
    rebootNode(b.ctx(), 'drain', n!.id, { nodeRebootOption: 'taskcompletion' });
    assert.equal(node('drain', n!.id).state, 'rebooting');
    assert.equal(drainsTasks(node('drain', n!.id)), true);
    const before = b.hooks.length;
    b.store.tx(() => setNodeLoad(b.ctx(), pk, node('drain', n!.id), 0, 0, { run: 1, succeeded: 1 }));
    assert.equal(b.hooks.length, before, 'not inside the transaction');
    await settle();
    assert.deepEqual(b.hooks.slice(before), [['nodeChanged', n!.id]]);
  });

  it('a lost node is unusable and runs nothing', () => {
    const [n] = b.poolWithNodes('lost', 1);
    b.store.tx(() => setNodeLoad(b.ctx(), b.pool('lost').pk, node('lost', n!.id), 1, 1, { run: 0, succeeded: 0 }));
    b.store.tx(() => nodeLost(b.ctx(), b.pool('lost').pk, node('lost', n!.id)));
    assert.deepEqual(pick(node('lost', n!.id)), { state: 'unusable', tasks: 0, slots: 0, run: 0, succeeded: 0 });
    assert.equal(node('lost', n!.id).previousState, 'running');
  });

  it('reboot and reimage: the state at once, the option kept; refused while one is under way or the node is not up', () => {
    const [r, i] = b.poolWithNodes('ops', 2);
    rebootNode(b.ctx(), 'ops', r!.id, {});
    assert.equal(node('ops', r!.id).state, 'rebooting');
    assert.deepEqual(pendingDeallocation(node('ops', r!.id)), { operation: 'reboot', option: 'requeue' });
    assert.throws(() => rebootNode(b.ctx(), 'ops', r!.id, {}), refusal(409, 'NodeBeingRebooted'));
    assert.throws(() => reimageNode(b.ctx(), 'ops', r!.id, {}), refusal(409, 'NodeBeingRebooted'));
    reimageNode(b.ctx(), 'ops', i!.id, { nodeReimageOption: 'terminate' });
    assert.equal(node('ops', i!.id).state, 'reimaging');
    assert.throws(() => rebootNode(b.ctx(), 'ops', i!.id, {}), refusal(409, 'NodeBeingReimaged'));
    assert.ok(b.hooks.some(([h, id]) => h === 'nodeChanged' && id === i!.id));
    // Joining again ends the operation.
    join('ops', node('ops', r!.id));
    assert.equal(node('ops', r!.id).state, 'idle');
    assert.equal(pendingDeallocation(node('ops', r!.id)), undefined);

    const creating = created('opscreating');
    assert.throws(() => rebootNode(b.ctx(), 'opscreating', creating.id, {}), refusal(409, 'OperationInvalidForCurrentState'));
    assert.throws(() => rebootNode(b.ctx(), 'ops', 'tvm-nope', {}), refusal(404, 'NodeNotFound'));
    assert.throws(() => rebootNode(b.ctx(), 'nope', r!.id, {}), refusal(404, 'PoolNotFound'));
  });

  it('disablescheduling keeps its option for the cluster; enablescheduling clears it', () => {
    const [n] = b.poolWithNodes('sched', 1);
    setScheduling(b.ctx(), 'sched', n!.id, false, { nodeDisableSchedulingOption: 'taskcompletion' });
    assert.equal(node('sched', n!.id).schedulingState, 'disabled');
    assert.equal(node('sched', n!.id)[PENDING_DISABLE], 'taskcompletion');
    setScheduling(b.ctx(), 'sched', n!.id, true, {});
    assert.equal(node('sched', n!.id).schedulingState, 'enabled');
    assert.equal(node('sched', n!.id)[PENDING_DISABLE], undefined);
  });

  it('node counts per pool, by state, dedicated and low-priority apart', () => {
    b.poolWithNodes('counted', 2);
    b.poolWithNodes('counted-spot', 1, {}, { lowPriority: true });
    const counts = poolNodeCounts(b.ctx());
    const dedicated = counts.find((c) => c.poolId === 'counted')!;
    assert.equal(dedicated.dedicated['idle'], 2);
    assert.equal(dedicated.dedicated['total'], 2);
    assert.equal(dedicated.lowPriority['total'], 0);
    const spot = counts.find((c) => c.poolId === 'counted-spot')!;
    assert.deepEqual([spot.lowPriority['idle'], spot.dedicated['total']], [1, 0]);
    const [failed] = b.poolWithNodes('counted-failed', 1);
    b.store.tx(() => setNodeState(b.ctx(), b.pool('counted-failed').pk, failed!, 'starttaskfailed'));
    const st = poolNodeCounts(b.ctx()).find((c) => c.poolId === 'counted-failed')!;
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

  it("the data of a node's tasks is kept until the latest retentionTime of its completed tasks (7 days by default)", () => {
    const [n, other] = b.poolWithNodes('keep', 2, { taskSlotsPerNode: 2 });
    addJob(b.ctx(), { id: 'j', poolInfo: { poolId: 'keep' } });
    const run = (taskId: string, on: ComputeNode, endAt: number, retentionTime?: string) => {
      addTask(b.ctx(), 'j', { id: taskId, commandLine: 'true', ...(retentionTime ? { constraints: { retentionTime } } : {}) });
      b.store.tx(() => {
        const { pk, doc } = b.job('j');
        assignTask(b.ctx(), pk, doc, b.task('j', taskId), { nodeId: on.id, poolId: 'keep', affinityId: 'x', nodeUrl: 'x', taskRootDirectory: 'x', taskRootDirectoryUrl: 'x' });
        b.at(endAt);
        completeTask(b.ctx(), pk, doc, b.task('j', taskId), { exitCode: 0 });
      });
    };
    assert.equal(retentionEnds(b.ctx(), b.pool('keep').doc, n!.id), 0, 'nothing ran there');
    run('short', n!, 0, 'PT1H');
    assert.equal(retentionEnds(b.ctx(), b.pool('keep').doc, n!.id), T0 + 60 * MIN);
    run('default', n!, MIN);
    assert.equal(retentionEnds(b.ctx(), b.pool('keep').doc, n!.id), T0 + MIN + 7 * 24 * 60 * MIN);
    run('elsewhere', other!, 2 * MIN, 'P30D');
    assert.equal(retentionEnds(b.ctx(), b.pool('keep').doc, n!.id), T0 + MIN + 7 * 24 * 60 * MIN, "another node's tasks do not count");
  });
});

function pick(n: ComputeNode) {
  return { state: n.state, tasks: n.runningTasksCount, slots: n.runningTaskSlotsCount, run: n.totalTasksRun, succeeded: n.totalTasksSucceeded };
}
