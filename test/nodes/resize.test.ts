import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { batchRequest } from '../helpers/batchHttp.js';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, agentPids, gates, nodeRoot, sharedTempDir, stopKiln, uid, vm, waitForNodes, waitForTask } from './helpers.js';

/**
 * Pool allocation as Azure documents it (issue 9): allocationState resizing → stopping → steady,
 * stopResize, current node counts, and what nodeDeallocationOption / nodeRebootOption do to the
 * tasks of a node that leaves or restarts.
 */
describe('pool resizes, stopResize and deallocation options on local nodes', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let dir: string;

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    dir = sharedTempDir('kiln-resize-');
  });

  after(() => stopKiln(kiln, dir));

  const { gated, open } = gates(() => dir);

  /** A pool of one node running one gated task; returns the ids. */
  async function busyNode(taskExtra: Record<string, unknown> = {}) {
    const poolId = uid('pool');
    const [node] = await addPool(client, poolId, 1);
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    const gate = uid('gate');
    await client.task.add(jobId, { id: 'busy', commandLine: gated(gate), ...taskExtra });
    await waitForTask(client, jobId, 'busy', 'running');
    return { poolId, nodeId: node!.id!, jobId, gate };
  }

  const steadyPool = (poolId: string) =>
    waitFor(`${poolId} steady`, async () => {
      const p = await client.pool.get(poolId);
      return p.allocationState === 'steady' ? p : undefined;
    });

  const countsOf = async (poolId: string) => (await client.account.listPoolNodeCounts()).find((c) => c.poolId === poolId)!;

  it('is resizing while its nodes come, then steady; stopResize on a steady pool is 409; counts match', async () => {
    const poolId = uid('pool');
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
    const created = await client.pool.get(poolId);
    assert.equal(created.allocationState, 'steady');
    await assert.rejects(client.pool.stopResize(poolId), (e: { statusCode?: number; code?: string }) => e.statusCode === 409 && e.code === 'PoolNotResizing');

    const resized = await client.pool.resize(poolId, { targetDedicatedNodes: 2 });
    assert.equal(resized._response.status, 202);
    const resizing = await client.pool.get(poolId);
    assert.equal(resizing.allocationState, 'resizing');
    assert.ok(resizing.allocationStateTransitionTime! >= created.allocationStateTransitionTime!);
    await assert.rejects(
      client.pool.resize(poolId, { targetDedicatedNodes: 3 }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 409 && e.code === 'PoolBeingResized',
    );
    const raw = await batchRequest(kiln.batchUrl, 'GET', `/pools/${poolId}`);
    assert.deepEqual(
      Object.keys(raw.json() as object).filter((k) => k.startsWith('_')),
      [],
      'the resize deadline is not shown',
    );

    const [first] = await waitForNodes(client, poolId, 2);
    const steady = await steadyPool(poolId);
    assert.ok(steady.allocationStateTransitionTime! > resizing.allocationStateTransitionTime!);
    assert.equal(steady.currentDedicatedNodes, 2);
    assert.equal(steady.resizeErrors, undefined);
    const counts = await countsOf(poolId);
    assert.equal(counts.dedicated!.idle, 2);
    assert.equal(counts.dedicated!.total, steady.currentDedicatedNodes);
    assert.equal(counts.lowPriority!.total, 0);
    await assert.rejects(client.pool.stopResize(poolId), (e: { statusCode?: number; code?: string }) => e.statusCode === 409 && e.code === 'PoolNotResizing');
    // Azure's minimum resizeTimeout is 5 minutes, for a removal as for a resize.
    for (const call of [
      () => client.pool.resize(poolId, { targetDedicatedNodes: 1, resizeTimeout: 'PT4M' }),
      () => client.pool.removeNodes(poolId, { nodeList: [first!.id!], resizeTimeout: 'PT1M' }),
    ]) {
      await assert.rejects(call(), (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'InvalidPropertyValue');
    }
    await client.pool.deleteMethod(poolId);
  });

  it('taskcompletion: the running task finishes (exit 0), the leaving node takes no new task and then goes; stopResize meanwhile stops at the nodes kept', async () => {
    const { poolId, nodeId, jobId, gate } = await busyNode();
    await client.pool.resize(poolId, { targetDedicatedNodes: 0, nodeDeallocationOption: 'taskcompletion' });
    const leaving = await waitFor('the node to be leaving', async () => {
      const n = await client.computeNode.get(poolId, nodeId);
      return n.state === 'leavingpool' ? n : undefined;
    });
    assert.equal(leaving.runningTasksCount, 1);
    const pool = await client.pool.get(poolId);
    assert.equal(pool.allocationState, 'resizing', 'a node still leaving keeps the pool resizing');
    assert.equal(pool.currentDedicatedNodes, 1, 'the leaving node is still in the pool');
    const counts = await countsOf(poolId);
    assert.equal(counts.dedicated!.leavingPool, 1);
    assert.equal(counts.dedicated!.total, 1);
    assert.equal((await client.task.get(jobId, 'busy')).state, 'running');
    await client.task.add(jobId, { id: 'late', commandLine: '/bin/true' });

    const stopped = await client.pool.stopResize(poolId);
    assert.equal(stopped._response.status, 202);
    const stopping = await client.pool.get(poolId);
    assert.equal(stopping.allocationState, 'stopping', 'the leaving node has not gone yet');
    assert.equal(stopping.targetDedicatedNodes, 0);
    await assert.rejects(client.pool.stopResize(poolId), (e: { statusCode?: number; code?: string }) => e.statusCode === 409);

    open(gate);
    const done = await waitForTask(client, jobId, 'busy');
    assert.equal(done.executionInfo?.exitCode, 0);
    assert.equal(done.executionInfo?.result, 'success');
    assert.equal(done.executionInfo?.requeueCount, 0);
    await waitForNodes(client, poolId, 0);
    const steady = await steadyPool(poolId);
    assert.equal(steady.currentDedicatedNodes, 0);
    assert.equal(steady.targetDedicatedNodes, 0);
    assert.deepEqual(
      steady.resizeErrors?.map((e) => e.code),
      ['ResizeStopped'],
    );
    assert.equal((await client.task.get(jobId, 'late')).state, 'active', 'the leaving node took no new task');
    await waitFor(`the agent of ${nodeId} to stop`, () => (agentPids(nodeId).length === 0 ? true : undefined));
    await waitFor('its node directory to go', () => (fs.existsSync(nodeRoot(kiln, poolId, nodeId)) ? undefined : true));
    await client.pool.deleteMethod(poolId);
  });

  it('terminate on removenodes: the running task completes with failure info and is not requeued; the node goes at once', async () => {
    const { poolId, nodeId, jobId } = await busyNode();
    await client.pool.removeNodes(poolId, { nodeList: [nodeId], nodeDeallocationOption: 'terminate' });
    const task = await waitForTask(client, jobId, 'busy');
    assert.equal(task.executionInfo?.result, 'failure');
    assert.equal(task.executionInfo?.failureInfo?.code, 'TaskEnded');
    assert.equal(task.executionInfo?.requeueCount, 0);
    await waitForNodes(client, poolId, 0);
    const steady = await steadyPool(poolId);
    assert.equal(steady.targetDedicatedNodes, 0);
    assert.equal(steady.currentDedicatedNodes, 0);
    await client.pool.deleteMethod(poolId);
  });

  it('reboot with taskcompletion: the node is rebooting while its task finishes, then restarts', async () => {
    const { poolId, nodeId, jobId, gate } = await busyNode();
    const before = await client.computeNode.get(poolId, nodeId);
    await client.computeNode.reboot(poolId, nodeId, { nodeRebootOption: 'taskcompletion' });
    assert.equal((await client.computeNode.get(poolId, nodeId)).state, 'rebooting');
    await assert.rejects(client.computeNode.reboot(poolId, nodeId), (e: { statusCode?: number; code?: string }) => e.statusCode === 409 && e.code === 'NodeBeingRebooted');
    assert.equal((await client.task.get(jobId, 'busy')).state, 'running');
    assert.equal((await countsOf(poolId)).dedicated!.rebooting, 1);
    open(gate);
    const done = await waitForTask(client, jobId, 'busy');
    assert.equal(done.executionInfo?.exitCode, 0);
    assert.equal(done.executionInfo?.requeueCount, 0);
    const [back] = await waitForNodes(client, poolId, 1, ['idle']);
    assert.ok(back!.lastBootTime! > before.lastBootTime!, 'the node restarted after its task');
    assert.equal(back!.totalTasksRun, 1);
    await client.pool.deleteMethod(poolId);
  });

  it('retaineddata: the node leaves once its task has finished and the task data retention has passed', async () => {
    const retentionMs = 3000;
    const { poolId, nodeId, jobId, gate } = await busyNode({ constraints: { retentionTime: 'PT3S' } });
    await client.pool.removeNodes(poolId, { nodeList: [nodeId], nodeDeallocationOption: 'retaineddata' });
    assert.equal((await client.computeNode.get(poolId, nodeId)).state, 'leavingpool');
    open(gate);
    const done = await waitForTask(client, jobId, 'busy');
    assert.equal(done.executionInfo?.exitCode, 0);
    const node = await client.computeNode.get(poolId, nodeId);
    assert.equal(node.state, 'leavingpool', 'the node waits for the retention of its task data');
    assert.equal((await client.pool.get(poolId)).allocationState, 'resizing');
    await waitForNodes(client, poolId, 0, ['idle'], 15_000);
    assert.ok(Date.now() >= done.executionInfo!.endTime!.getTime() + retentionMs, 'not before the retention time had passed');
    const steady = await steadyPool(poolId);
    assert.equal(steady.currentDedicatedNodes, 0);
    await client.pool.deleteMethod(poolId);
  });
});

describe('allocation across a restart of kiln', () => {
  it('retaineddata: a node waiting for its task data retention when kiln is killed leaves at its deadline, not before', async () => {
    const dir = sharedTempDir('kiln-retain-');
    const { gated, open } = gates(() => dir);
    const first = await startKiln();
    const { dataDir, nodesDir } = first;
    let second: KilnProcess | undefined;
    try {
      const client = first.batchClient();
      const poolId = uid('pool');
      const [node] = await addPool(client, poolId, 1);
      const nodeId = node!.id!;
      const jobId = uid('job');
      await client.job.add({ id: jobId, poolInfo: { poolId } });
      const gate = uid('gate');
      await client.task.add(jobId, { id: 'kept', commandLine: gated(gate, 'echo kept > data.txt'), constraints: { retentionTime: 'PT20S' } });
      await waitForTask(client, jobId, 'kept', 'running');
      await client.pool.removeNodes(poolId, { nodeList: [nodeId], nodeDeallocationOption: 'retaineddata' });
      open(gate);
      const done = await waitForTask(client, jobId, 'kept');
      const deadline = done.executionInfo!.endTime!.getTime() + 20_000;
      assert.equal((await client.computeNode.get(poolId, nodeId)).state, 'leavingpool');
      await first.kill9();

      // A short node-loss timeout: the node must not be taken for lost (and dropped) meanwhile.
      second = await startKiln({ dataDir, nodesDir, extraArgs: ['--node-lost-after', '1000'] });
      const again = second.batchClient();
      const waiting = await again.computeNode.get(poolId, nodeId);
      assert.ok(Date.now() < deadline - 2000, 'the test restarted kiln well before the deadline');
      assert.equal(waiting.state, 'leavingpool', 'after the restart the node still waits for the retention of its task data');
      const root = nodeRoot(second, poolId, nodeId);
      assert.equal(fs.readFileSync(`${root}/workitems/${jobId}/job-1/kept/wd/data.txt`, 'utf8'), 'kept\n', 'its task data is still there');
      await waitFor('the pool to be resizing until the node has gone', async () => ((await again.pool.get(poolId)).allocationState === 'resizing' ? true : undefined));

      await waitForNodes(again, poolId, 0, ['idle'], 30_000);
      assert.ok(Date.now() >= deadline, 'not before the retention time had passed');
      const pool = await again.pool.get(poolId);
      assert.equal(pool.allocationState, 'steady');
      assert.equal(pool.currentDedicatedNodes, 0);
      await waitFor('its node directory to go', () => (fs.existsSync(root) ? undefined : true));
      await again.pool.deleteMethod(poolId);
    } finally {
      if (second) await stopKiln(second, dir);
      else await stopKiln(first, dir);
    }
  });
});
