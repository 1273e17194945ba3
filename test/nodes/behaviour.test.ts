import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, gates, nodeRoot, sharedTempDir, stopKiln, taskStdout, uid, vm, waitForNodes, waitForTask, waitingReason } from './helpers.js';

const refusedAs = (code: string) => (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === code;

describe('scheduler behaviours (issue 9): passes on every event, waiting reasons, job manager, job preparation', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let dir: string;

  // one: a node of one slot; two: two nodes of two slots each.
  const pools = { one: uid('pool-one'), two: uid('pool-two') };
  let oneNode: string;
  let twoNodes: string[];

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    dir = sharedTempDir('kiln-behaviour-');
    const [one, two] = await Promise.all([addPool(client, pools.one, 1), addPool(client, pools.two, 2, { taskSlotsPerNode: 2 })]);
    oneNode = one[0]!.id!;
    twoNodes = two.map((n) => n.id!).sort();
  });

  const newJob = async (poolId: string, extra: Record<string, unknown> = {}) => {
    const id = uid('job');
    await client.job.add({ id, poolInfo: { poolId }, ...extra });
    return id;
  };

  after(() => stopKiln(kiln, dir));

  const { gated, open } = gates(() => dir);

  it('a task requeued by a resize down starts on the idle node at once, with no further event', async () => {
    const poolId = uid('pool-resize');
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1, targetLowPriorityNodes: 1 });
    await waitForNodes(client, poolId, 2);
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    const gate = uid('gate');
    await client.task.add(jobId, { id: 'moved', commandLine: gated(gate) });
    const first = await waitForTask(client, jobId, 'moved', 'running');
    const firstNode = first.nodeInfo!.nodeId!;
    const onDedicated = (await client.computeNode.get(poolId, firstNode)).isDedicated;
    await client.pool.resize(poolId, {
      targetDedicatedNodes: onDedicated ? 0 : 1,
      targetLowPriorityNodes: onDedicated ? 1 : 0,
      nodeDeallocationOption: 'requeue',
    });
    // Nothing else happens: no task is added, and the task must move to the remaining node by itself.
    const moved = await waitFor(
      'the requeued task to run on the other node',
      async () => {
        const t = await client.task.get(jobId, 'moved');
        return t.state === 'running' && t.nodeInfo?.nodeId !== firstNode ? t : undefined;
      },
      // Before, it sat there for as long as nothing else happened (40 s and more).
      8_000,
    );
    assert.equal(moved.executionInfo?.requeueCount, 1);
    assert.equal(await waitingReason(kiln, jobId, 'moved'), undefined);
    open(gate);
    await waitForTask(client, jobId, 'moved');
    await client.pool.deleteMethod(poolId);
  });

  it('a task needing more slots than a node has is accepted, and waits saying it can never run', async () => {
    const jobId = await newJob(pools.one);
    await client.task.add(jobId, { id: 'big', commandLine: '/bin/true', requiredSlots: 2 });
    assert.match((await waitingReason(kiln, jobId, 'big')) ?? '', /^CannotRun: the task needs 2 task slots, but nodes of pool \S+ have 1/);
    assert.equal((await client.task.get(jobId, 'big')).state, 'active');
    await client.job.deleteMethod(jobId);
  });

  it('a node with scheduling disabled: the task says so, and runs as soon as scheduling is enabled', async () => {
    const jobId = await newJob(pools.one);
    await client.computeNode.disableScheduling(pools.one, oneNode);
    await waitFor('scheduling disabled', async () => ((await client.computeNode.get(pools.one, oneNode)).schedulingState === 'disabled' ? true : undefined));
    await client.task.add(jobId, { id: 'held', commandLine: '/bin/true' });
    assert.match((await waitingReason(kiln, jobId, 'held')) ?? '', /^NodeSchedulingDisabled: /);
    await client.computeNode.enableScheduling(pools.one, oneNode);
    await waitForTask(client, jobId, 'held');
    await client.job.deleteMethod(jobId);
  });

  it('a task that depends on itself, by id or by a range, is refused', async () => {
    const jobId = await newJob(pools.one, { usesTaskDependencies: true });
    await assert.rejects(client.task.add(jobId, { id: 'self', commandLine: '/bin/true', dependsOn: { taskIds: ['other', 'SELF'] } }), refusedAs('InvalidPropertyValue'));
    await assert.rejects(client.task.add(jobId, { id: '7', commandLine: '/bin/true', dependsOn: { taskIdRanges: [{ start: 5, end: 9 }] } }), refusedAs('InvalidPropertyValue'));
    const results = await client.task.addCollection(jobId, [
      {
        id: '8',
        commandLine: '/bin/true',
        dependsOn: {
          taskIdRanges: [
            { start: 1, end: 3 },
            { start: 8, end: 8 },
          ],
        },
      },
      { id: '9', commandLine: '/bin/true', dependsOn: { taskIdRanges: [{ start: 1, end: 3 }] } },
    ]);
    assert.deepEqual(
      results.value!.map((r) => [r.taskId, r.status, r.error?.code]),
      [
        ['8', 'clienterror', 'InvalidPropertyValue'],
        ['9', 'success', undefined],
      ],
    );
    await client.job.deleteMethod(jobId);
  });

  it('a job manager task runs alone on its node; when it completes, the job ends (JMComplete) and its running tasks are ended', async () => {
    const gate = uid('jm');
    const workers = uid('workers');
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId: pools.two }, jobManagerTask: { id: 'manager', commandLine: gated(gate) } });
    const manager = await waitForTask(client, jobId, 'manager', 'running');
    await client.task.addCollection(
      jobId,
      ['w1', 'w2', 'w3'].map((id) => ({ id, commandLine: gated(workers) })),
    );
    await waitForTask(client, jobId, 'w1', 'running');
    await waitForTask(client, jobId, 'w2', 'running');
    for (const id of ['w1', 'w2']) assert.notEqual((await client.task.get(jobId, id)).nodeInfo?.nodeId, manager.nodeInfo?.nodeId, `${id} does not share the manager's node`);
    assert.equal((await client.task.get(jobId, 'w3')).state, 'active');
    assert.match((await waitingReason(kiln, jobId, 'w3')) ?? '', /^NoFreeSlot: /);
    open(gate);
    const job = await waitFor(
      'the job to complete',
      async () => {
        const j = await client.job.get(jobId);
        return j.state === 'completed' ? j : undefined;
      },
      20_000,
    );
    assert.equal(job.executionInfo?.terminateReason, 'JMComplete');
    for (const id of ['w1', 'w2']) {
      const t = await client.task.get(jobId, id);
      assert.equal(t.state, 'completed');
      assert.equal(t.executionInfo?.failureInfo?.code, 'TaskEnded');
    }
    assert.equal((await client.task.get(jobId, 'manager')).executionInfo?.result, 'success');
    open(workers);
    await client.job.deleteMethod(jobId);
  });

  it('a job manager task with allowLowPriorityNode false waits for a dedicated node, saying so', async () => {
    const poolId = uid('pool-spot');
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0, targetLowPriorityNodes: 1 });
    await waitForNodes(client, poolId, 1);
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId }, jobManagerTask: { id: 'manager', commandLine: '/bin/true', allowLowPriorityNode: false } });
    await client.task.add(jobId, { id: 'other', commandLine: '/bin/true' });
    await waitForTask(client, jobId, 'other');
    assert.equal((await client.task.get(jobId, 'manager')).state, 'active');
    assert.match((await waitingReason(kiln, jobId, 'manager')) ?? '', /^NoDedicatedNode: /);
    await client.job.deleteMethod(jobId);
    await client.pool.deleteMethod(poolId);
  });

  it('killJobOnCompletion false: the job goes on after its manager task', async () => {
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId: pools.two }, jobManagerTask: { id: 'manager', commandLine: '/bin/true', killJobOnCompletion: false } });
    await waitForTask(client, jobId, 'manager');
    await client.task.add(jobId, { id: 'after', commandLine: '/bin/true' });
    await waitForTask(client, jobId, 'after');
    assert.equal((await client.job.get(jobId)).state, 'active');
    await client.job.deleteMethod(jobId);
  });

  it("a node where the job preparation task failed runs none of the job's tasks: they run elsewhere, or wait saying why", async () => {
    const [bad, good] = twoNodes as [string, string];
    const jobId = await newJob(pools.two, { jobPreparationTask: { commandLine: `/bin/sh -c 'test "$AZ_BATCH_NODE_ID" != "${bad}"'` } });
    await client.task.addCollection(
      jobId,
      [1, 2, 3, 4].map((n) => ({ id: `t${n}`, commandLine: '/bin/true' })),
    );
    for (const n of [1, 2, 3, 4]) {
      const t = await waitForTask(client, jobId, `t${n}`, 'completed', 20_000);
      assert.equal(t.executionInfo?.result, 'success');
      assert.equal(t.nodeInfo?.nodeId, good, `t${n} ran on the node whose preparation succeeded`);
    }
    const statuses = await client.job.listPreparationAndReleaseTaskStatus(jobId);
    const byNode = new Map(statuses.map((s) => [s.nodeId, s.jobPreparationTaskExecutionInfo?.result]));
    assert.equal(byNode.get(good), 'success');
    // Spread gave the bad node tasks too: its preparation ran there, and failed.
    assert.equal(byNode.get(bad), 'failure');

    const nowhere = await newJob(pools.two, { jobPreparationTask: { commandLine: '/bin/false' } });
    await client.task.add(nowhere, { id: 'stuck', commandLine: '/bin/true' });
    const reason = await waitFor(
      'the task to wait for an eligible node',
      async () => {
        const r = await waitingReason(kiln, nowhere, 'stuck');
        return r?.startsWith('JobPreparationTaskFailed') ? r : undefined;
      },
      20_000,
    );
    assert.match(reason, /until it is reimaged/);
    const stuck = await client.task.get(nowhere, 'stuck');
    assert.equal(stuck.state, 'active');
    assert.equal(stuck.executionInfo?.retryCount, 0);
    assert.equal(stuck.executionInfo?.requeueCount, 0);
    await Promise.all([client.job.deleteMethod(jobId), client.job.deleteMethod(nowhere)]);
  });

  it('a reimaged node is eligible again for a job whose preparation task failed there', async () => {
    const ok = path.join(dir, uid('prep-ok'));
    const jobId = await newJob(pools.one, { jobPreparationTask: { commandLine: `/bin/sh -c 'test -e ${ok}'` } });
    await client.task.add(jobId, { id: 'later', commandLine: '/bin/true' });
    await waitFor('the node to be ineligible', async () => ((await waitingReason(kiln, jobId, 'later'))?.startsWith('JobPreparationTaskFailed') ? true : undefined), 20_000);
    fs.writeFileSync(ok, '');
    await client.computeNode.reimage(pools.one, oneNode);
    const done = await waitForTask(client, jobId, 'later', 'completed', 30_000);
    assert.equal(done.executionInfo?.result, 'success');
    await client.job.deleteMethod(jobId);
    await waitForNodes(client, pools.one, 1);
  });

  it("a task gets a clean environment: the node's PATH, none of the agent's variables", async () => {
    const jobId = await newJob(pools.one);
    await client.task.add(jobId, { id: 'env', commandLine: '/usr/bin/env', environmentSettings: [{ name: 'MINE', value: 'yes' }] });
    await waitForTask(client, jobId, 'env');
    const env = new Map(
      (await taskStdout(kiln, client, jobId, 'env'))
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    assert.match(env.get('PATH')!, /^\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin:/);
    assert.equal(env.get('MINE'), 'yes');
    const others = [...env.keys()].filter((k) => !k.startsWith('AZ_BATCH_') && !['HOME', 'PWD', 'USER', 'PATH', 'MINE'].includes(k));
    assert.deepEqual(others, []);
    await client.job.deleteMethod(jobId);
  });

  it("no internal file shows in a node's file listing; deleting a job removes its directories from the node", async () => {
    const jobId = await newJob(pools.one, { jobPreparationTask: { commandLine: '/bin/true' }, jobReleaseTask: { commandLine: '/bin/true' } });
    await client.task.add(jobId, { id: 'kept', commandLine: '/bin/true' });
    await waitForTask(client, jobId, 'kept');
    const jobDir = path.join(nodeRoot(kiln, pools.one, oneNode), 'workitems', jobId);
    assert.ok(fs.existsSync(path.join(jobDir, 'job-1', 'kept', 'stdout.txt')));
    // Waits for the agent to have written its retention marker, so that the listing could show it.
    await waitFor('the retention marker', () => (fs.existsSync(path.join(jobDir, 'job-1', 'kept.retain-until')) ? true : undefined));
    const listed = await client.file.listFromComputeNode(pools.one, oneNode, { recursive: true });
    const names = listed.map((f) => f.name!);
    assert.ok(names.includes(`workitems/${jobId}/job-1/kept/stdout.txt`), names.join(' '));
    assert.deepEqual(
      names.filter((n) => n.endsWith('.retain-until')),
      [],
    );
    await assert.rejects(
      client.file.getPropertiesFromComputeNode(pools.one, oneNode, `workitems/${jobId}/job-1/kept.retain-until`),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
    await client.job.deleteMethod(jobId);
    await waitFor('the job directory to go from the node', () => (fs.existsSync(jobDir) ? undefined : true));
  });
});
