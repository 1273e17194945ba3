import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, alive, gates, processesUnder, sharedTempDir, uid, vm, waitForNodes, waitForTask, waitForTasks, waitingReason, stopKiln } from './helpers.js';

describe('the scheduler and job control on local pools', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let dir: string;
  const pools = { main: uid('pool-main'), pack: uid('pool-pack'), spread: uid('pool-spread'), one: uid('pool-one') };

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    dir = sharedTempDir('kiln-sched-');
    await Promise.all([
      addPool(client, pools.main, 2, { taskSlotsPerNode: 2 }),
      addPool(client, pools.pack, 2, { taskSlotsPerNode: 2, taskSchedulingPolicy: { nodeFillType: 'pack' } }),
      addPool(client, pools.spread, 2, { taskSlotsPerNode: 2, taskSchedulingPolicy: { nodeFillType: 'spread' } }),
      addPool(client, pools.one, 1),
    ]);
  });

  after(() => stopKiln(kiln, dir));

  const { gated, open, pids, lines } = gates(() => dir);
  const newJob = async (poolId: string, extra: Record<string, unknown> = {}) => {
    const id = uid('job');
    await client.job.add({ id, poolInfo: { poolId }, ...extra });
    return id;
  };
  const waitRunning = async (jobId: string, ids: string[]) => {
    for (const id of ids) await waitForTask(client, jobId, id, 'running');
  };
  const nodeOf = async (jobId: string, taskId: string) => (await client.task.get(jobId, taskId)).nodeInfo?.nodeId;

  it('checks taskSlotsPerNode against the cores of the VM size', async () => {
    await assert.rejects(
      client.pool.add({ id: uid('pool-slots'), vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0, taskSlotsPerNode: 9 }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'InvalidPropertyValue',
    );
    const ok = uid('pool-slots');
    await client.pool.add({ id: ok, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0, taskSlotsPerNode: 8 });
    await client.pool.deleteMethod(ok);
  });

  it('affinityInfo: a task goes to the node its affinityId names when that node has room', async () => {
    const nodes = await client.computeNode.list(pools.spread);
    assert.equal(nodes.length, 2);
    const jobId = await newJob(pools.spread);
    // Each node in turn, both orders: the hint wins over spreading.
    for (const node of [...nodes, ...nodes.slice().reverse()]) {
      const id = uid('affine');
      await client.task.add(jobId, { id, commandLine: '/bin/true', affinityInfo: { affinityId: node.affinityId! } });
      await waitForTask(client, jobId, id);
      assert.equal(await nodeOf(jobId, id), node.id);
    }
  });

  it('dependencies: a task waits for the ids and ranges it depends on; a failed one blocks, unless its exit options satisfy', async () => {
    const jobId = await newJob(pools.main, { usesTaskDependencies: true });
    const gate = uid('deps');
    const order = uid('order');
    const record = (name: string) => `echo ${name} >> ${dir}/${order}`;
    await client.task.addCollection(jobId, [
      { id: 'after', commandLine: `/bin/sh -c '${record('after')}'`, dependsOn: { taskIdRanges: [{ start: 1, end: 3 }], taskIds: ['named'] } },
      { id: '1', commandLine: gated(gate, record('1')) },
      { id: '2', commandLine: gated(gate, record('2')) },
      { id: '3', commandLine: gated(gate, record('3')) },
      { id: 'named', commandLine: `/bin/sh -c '${record('named')}'` },
    ]);
    await waitForTask(client, jobId, 'named');
    await waitRunning(jobId, ['1', '2', '3']);
    assert.equal((await client.task.get(jobId, 'after')).state, 'active');
    assert.match((await waitingReason(kiln, jobId, 'after')) ?? '', /^WaitingForDependencies: task [123] is running/);
    open(gate);
    const afterTask = await waitForTask(client, jobId, 'after');
    assert.equal(afterTask.executionInfo?.result, 'success');
    assert.equal(lines(order).at(-1), 'after');
    assert.equal(lines(order).length, 5);
    for (const id of ['1', '2', '3', 'named']) {
      const dep = await client.task.get(jobId, id);
      assert.ok(dep.executionInfo!.endTime! <= afterTask.executionInfo!.startTime!, `${id} ended before "after" started`);
    }

    await client.task.addCollection(jobId, [
      { id: 'fail', commandLine: `/bin/sh -c 'exit 1'` },
      { id: 'blocked', commandLine: '/bin/true', dependsOn: { taskIds: ['fail'] } },
      { id: 'fail2', commandLine: `/bin/sh -c 'exit 1'`, exitConditions: { exitCodes: [{ code: 1, exitOptions: { dependencyAction: 'satisfy' } }] } },
      { id: 'satisfied', commandLine: '/bin/true', dependsOn: { taskIds: ['fail2'] } },
      { id: 'never', commandLine: '/bin/true', dependsOn: { taskIds: ['blocked'] } },
    ]);
    await waitForTask(client, jobId, 'fail');
    const satisfied = await waitForTask(client, jobId, 'satisfied');
    assert.equal(satisfied.executionInfo?.result, 'success');
    // Later passes of the scheduler still leave the blocked tasks alone.
    await client.task.add(jobId, { id: 'canary', commandLine: '/bin/true' });
    await waitForTask(client, jobId, 'canary');
    assert.equal((await client.task.get(jobId, 'blocked')).state, 'active');
    assert.equal((await client.task.get(jobId, 'never')).state, 'active');
    assert.match((await waitingReason(kiln, jobId, 'blocked')) ?? '', /^BlockedByDependency: task fail failed/);
    assert.match((await waitingReason(kiln, jobId, 'never')) ?? '', /^WaitingForDependencies: task blocked is active/);
    assert.equal(await waitingReason(kiln, jobId, 'canary'), undefined, 'a completed task waits for nothing');
    await client.job.terminate(jobId);
  });

  it('pack fills one node before the next; spread balances; requiredSlots take that many slots', async () => {
    const gate = uid('fill');
    const packJob = await newJob(pools.pack);
    const spreadJob = await newJob(pools.spread);
    await client.task.addCollection(packJob, [
      { id: 'a', commandLine: gated(gate) },
      { id: 'b', commandLine: gated(gate) },
    ]);
    await client.task.addCollection(spreadJob, [
      { id: 'a', commandLine: gated(gate) },
      { id: 'b', commandLine: gated(gate) },
    ]);
    await waitRunning(packJob, ['a', 'b']);
    await waitRunning(spreadJob, ['a', 'b']);
    assert.equal(await nodeOf(packJob, 'a'), await nodeOf(packJob, 'b'), 'pack: both on one node');
    assert.notEqual(await nodeOf(spreadJob, 'a'), await nodeOf(spreadJob, 'b'), 'spread: one per node');

    // The packed node is full: a two-slot task goes to the other one, and a third has to wait.
    await client.task.add(packJob, { id: 'wide', commandLine: gated(gate), requiredSlots: 2 });
    await waitRunning(packJob, ['wide']); // before 'waits' is added: queued together, 'waits' sorts first and would take the slot
    await client.task.add(packJob, { id: 'waits', commandLine: gated(gate) });
    const full = await nodeOf(packJob, 'a');
    assert.notEqual(await nodeOf(packJob, 'wide'), full);
    const nodes = await client.computeNode.list(pools.pack);
    for (const node of nodes) {
      assert.equal(node.state, 'running');
      assert.equal(node.runningTaskSlotsCount, 2);
      assert.equal(node.runningTasksCount, node.id === full ? 2 : 1);
    }
    assert.equal((await client.task.get(packJob, 'waits')).state, 'active');
    assert.match((await waitingReason(kiln, packJob, 'waits')) ?? '', /^NoFreeSlot/);
    open(gate);
    await waitForTasks(client, packJob, 4);
    await waitForTasks(client, spreadJob, 2);
    await waitForNodes(client, pools.pack, 2, ['idle']);
    const after = await client.computeNode.list(pools.pack);
    assert.equal(
      after.reduce((n, node) => n + node.totalTasksRun!, 0),
      4,
    );
    assert.equal(
      after.reduce((n, node) => n + node.totalTasksSucceeded!, 0),
      4,
    );
  });

  it('runs the tasks of higher-priority jobs first', async () => {
    const gate = uid('prio');
    const order = uid('prio-order');
    const blocker = await newJob(pools.one);
    await client.task.add(blocker, { id: 'block', commandLine: gated(gate) });
    await waitRunning(blocker, ['block']);
    const record = (name: string) => `/bin/sh -c 'echo ${name} >> ${dir}/${order}'`;
    const low = await newJob(pools.one, { priority: -10 });
    await client.task.addCollection(low, [
      { id: 'l1', commandLine: record('low') },
      { id: 'l2', commandLine: record('low') },
    ]);
    const mid = await newJob(pools.one);
    await client.task.add(mid, { id: 'm1', commandLine: record('mid') });
    const high = await newJob(pools.one, { priority: 500 });
    await client.task.addCollection(high, [
      { id: 'h1', commandLine: record('high') },
      { id: 'h2', commandLine: record('high') },
    ]);
    open(gate);
    await waitForTasks(client, low, 2);
    await waitForTasks(client, mid, 1);
    await waitForTasks(client, high, 2);
    assert.deepEqual(lines(order), ['high', 'high', 'mid', 'low', 'low']);
  });

  it('never runs more than maxParallelTasks of a job at once', async () => {
    const lock = path.join(dir, uid('lock'));
    const jobId = await newJob(pools.main, { maxParallelTasks: 1 });
    await client.task.addCollection(
      jobId,
      Array.from({ length: 4 }, (_, i) => ({ id: `t${i}`, commandLine: `/bin/sh -c 'mkdir ${lock} || exit 9; sleep 0.2; rmdir ${lock}'` })),
    );
    const tasks = await waitForTasks(client, jobId, 4);
    for (const task of tasks) assert.equal(task.executionInfo?.result, 'success', `${task.id} ran alone`);
    const other = await newJob(pools.main);
    await client.task.add(other, { id: 'x', commandLine: '/bin/true' });
    await waitForTask(client, other, 'x');
  });

  it('disabling a job with requeue stops its running tasks and puts them back; enabling runs them again', async () => {
    const gate = uid('dis');
    const jobId = await newJob(pools.main);
    await client.task.addCollection(jobId, [
      { id: 'a', commandLine: gated(gate) },
      { id: 'b', commandLine: gated(gate) },
    ]);
    await waitRunning(jobId, ['a', 'b']);
    await waitFor('both pids', () => (pids(gate).length === 2 ? true : undefined));
    const first = pids(gate);
    await client.job.disable(jobId, 'requeue');
    const job = await waitFor('the job to be disabled', async () => {
      const j = await client.job.get(jobId);
      return j.state === 'disabled' ? j : undefined;
    });
    assert.equal(job.previousState, 'disabling');
    for (const id of ['a', 'b']) {
      const task = await client.task.get(jobId, id);
      assert.equal(task.state, 'active');
      assert.equal(task.executionInfo?.requeueCount, 1);
      assert.equal(task.executionInfo?.retryCount, 0);
    }
    for (const pid of first) await waitFor(`process ${pid} to die`, () => (alive(pid) ? undefined : true));
    await client.task.add(jobId, { id: 'c', commandLine: gated(gate) });
    await waitForNodes(client, pools.main, 2, ['idle']);
    assert.equal((await client.task.get(jobId, 'c')).state, 'active', 'a disabled job runs nothing');
    assert.match((await waitingReason(kiln, jobId, 'c')) ?? '', /^JobDisabled/);
    await client.job.enable(jobId);
    await waitRunning(jobId, ['a', 'b', 'c']);
    open(gate);
    const tasks = await waitForTasks(client, jobId, 3);
    for (const task of tasks) assert.equal(task.executionInfo?.result, 'success');
    assert.equal(pids(gate).length, 5);
  });

  it('disabling with terminate ends running tasks; with wait lets them finish', async () => {
    const gate = uid('dis2');
    const terminated = await newJob(pools.main);
    await client.task.add(terminated, { id: 'a', commandLine: gated(gate) });
    await waitRunning(terminated, ['a']);
    await waitFor('the pid', () => (pids(gate).length === 1 ? true : undefined));
    await client.job.disable(terminated, 'terminate');
    const task = await waitForTask(client, terminated, 'a');
    assert.equal(task.executionInfo?.failureInfo?.code, 'TaskEnded');
    assert.equal(task.executionInfo?.result, 'failure');
    await waitFor('the process to die', () => (alive(pids(gate)[0]!) ? undefined : true));
    await waitFor('the job to be disabled', async () => ((await client.job.get(terminated)).state === 'disabled' ? true : undefined));

    const gate2 = uid('dis3');
    const waiting = await newJob(pools.main);
    await client.task.add(waiting, { id: 'a', commandLine: gated(gate2, 'echo finished') });
    await waitRunning(waiting, ['a']);
    await client.job.disable(waiting, 'wait');
    assert.equal((await client.job.get(waiting)).state, 'disabling');
    assert.equal((await client.task.get(waiting, 'a')).state, 'running');
    open(gate2);
    const done = await waitForTask(client, waiting, 'a');
    assert.equal(done.executionInfo?.result, 'success');
    await waitFor('the job to be disabled', async () => ((await client.job.get(waiting)).state === 'disabled' ? true : undefined));
  });

  it('ends a job at its maxWallClockTime, with its running tasks', async () => {
    const gate = uid('wall');
    const jobId = await newJob(pools.main, { constraints: { maxWallClockTime: 'PT2S' } });
    await client.task.add(jobId, { id: 'long', commandLine: gated(gate) });
    await waitRunning(jobId, ['long']);
    await waitFor('the pid', () => (pids(gate).length === 1 ? true : undefined));
    const job = await waitFor('the job to end', async () => {
      const j = await client.job.get(jobId);
      return j.state === 'completed' ? j : undefined;
    });
    assert.equal(job.executionInfo?.terminateReason, 'MaxWallClockTimeExpiry');
    assert.ok(Date.parse(String(job.executionInfo!.endTime)) - Date.parse(String(job.creationTime)) >= 2000);
    const task = await waitForTask(client, jobId, 'long');
    assert.equal(task.executionInfo?.failureInfo?.code, 'TaskEnded');
    await waitFor('the process to die', () => (alive(pids(gate)[0]!) ? undefined : true));
  });

  it('terminating a job ends its running tasks, kills their processes and runs its release task once per node', async () => {
    const gate = uid('term');
    const released = uid('released');
    const jobId = await newJob(pools.one, {
      jobPreparationTask: { commandLine: '/bin/true' },
      jobReleaseTask: { commandLine: `/bin/sh -c 'echo $AZ_BATCH_JOB_ID >> ${dir}/${released}'` },
      maxParallelTasks: 1,
    });
    await client.task.addCollection(jobId, [
      { id: 'a', commandLine: gated(gate) },
      { id: 'b', commandLine: gated(gate) },
    ]);
    const running = await waitFor('one task running', async () => (await client.task.list(jobId)).find((t) => t.state === 'running'));
    await waitFor('the pid', () => (pids(gate).length === 1 ? true : undefined));
    await client.job.terminate(jobId, { terminateReason: 'enough' });
    const job = await waitFor('the job to complete', async () => {
      const j = await client.job.get(jobId);
      return j.state === 'completed' ? j : undefined;
    });
    assert.equal(job.executionInfo?.terminateReason, 'enough');
    const task = await client.task.get(jobId, running.id!);
    assert.equal(task.state, 'completed');
    assert.equal(task.executionInfo?.failureInfo?.code, 'TaskEnded');
    const queued = (await client.task.list(jobId)).find((t) => t.id !== running.id)!;
    assert.equal(queued.state, 'active', 'a queued task stays active');
    await waitFor('the process to die', () => (alive(pids(gate)[0]!) ? undefined : true));
    await waitFor('the release task', () => (lines(released).length === 1 ? true : undefined));
    assert.deepEqual(lines(released), [jobId]);
    await waitForNodes(client, pools.one, 1, ['idle']);
  });

  it('disabling a job whose tasks are done does not release it; onAllTasksComplete terminates it and releases it', async () => {
    const released = uid('released2');
    const jobId = await newJob(pools.one, { jobPreparationTask: { commandLine: '/bin/true' }, jobReleaseTask: { commandLine: `/bin/sh -c 'echo release >> ${dir}/${released}'` } });
    await client.task.add(jobId, { id: 'a', commandLine: '/bin/true' });
    await waitForTask(client, jobId, 'a');
    await client.job.disable(jobId, 'requeue');
    await waitFor('the job to be disabled', async () => ((await client.job.get(jobId)).state === 'disabled' ? true : undefined));
    await client.job.enable(jobId);
    await client.job.patch(jobId, { onAllTasksComplete: 'terminatejob' });
    const job = await waitFor('the job to complete', async () => {
      const j = await client.job.get(jobId);
      return j.state === 'completed' ? j : undefined;
    });
    assert.equal(job.executionInfo?.terminateReason, 'AllTasksComplete');
    await waitFor('the release task', () => (lines(released).length >= 1 ? true : undefined));
    assert.deepEqual(lines(released), ['release'], 'released once, at the end');
  });

  it('onTaskFailure performexitoptionsjobaction terminates the job and ends its other running tasks', async () => {
    const gate = uid('otf');
    const jobId = await newJob(pools.main, { onTaskFailure: 'performexitoptionsjobaction' });
    await client.task.add(jobId, { id: 'long', commandLine: gated(gate) });
    await waitRunning(jobId, ['long']);
    await waitFor('the pid', () => (pids(gate).length === 1 ? true : undefined));
    await client.task.add(jobId, { id: 'bad', commandLine: `/bin/sh -c 'exit 4'` });
    const job = await waitFor('the job to complete', async () => {
      const j = await client.job.get(jobId);
      return j.state === 'completed' ? j : undefined;
    });
    assert.equal(job.executionInfo?.terminateReason, 'TaskFailed');
    const long = await client.task.get(jobId, 'long');
    assert.equal(long.state, 'completed');
    assert.equal(long.executionInfo?.failureInfo?.code, 'TaskEnded');
    await waitFor('the process to die', () => (alive(pids(gate)[0]!) ? undefined : true));
  });

  it("an exit code's jobAction disable disables the job and requeues its other running tasks", async () => {
    const gate = uid('otf-disable');
    const jobId = await newJob(pools.main, { onTaskFailure: 'performexitoptionsjobaction' });
    await client.task.add(jobId, { id: 'long', commandLine: gated(gate) });
    await waitRunning(jobId, ['long']);
    await waitFor('the pid', () => (pids(gate).length === 1 ? true : undefined));
    await client.task.add(jobId, { id: 'bad', commandLine: `/bin/sh -c 'exit 4'`, exitConditions: { exitCodes: [{ code: 4, exitOptions: { jobAction: 'disable' } }] } });
    await waitFor('the job to be disabled', async () => ((await client.job.get(jobId)).state === 'disabled' ? true : undefined));
    const long = await client.task.get(jobId, 'long');
    assert.equal(long.state, 'active');
    assert.equal(long.executionInfo?.requeueCount, 1);
    await waitFor('the process to die', () => (alive(pids(gate)[0]!) ? undefined : true));
    await client.job.enable(jobId);
    open(gate);
    await waitForTask(client, jobId, 'long');
  });

  it('deleting a job with a running task kills it, frees the node and removes the job', async () => {
    const gate = uid('delete-job');
    const jobId = await newJob(pools.one);
    await client.task.add(jobId, { id: 'a', commandLine: gated(gate) });
    await waitRunning(jobId, ['a']);
    await waitFor('the pid', () => (pids(gate).length === 1 ? true : undefined));
    await client.job.deleteMethod(jobId);
    await waitFor('the job to be gone', async () => {
      try {
        await client.job.get(jobId);
        return undefined;
      } catch (err) {
        return (err as { statusCode?: number }).statusCode === 404 ? true : undefined;
      }
    });
    await waitFor('the process to die', () => (alive(pids(gate)[0]!) ? undefined : true));
    await waitForNodes(client, pools.one, 1, ['idle']);
  });

  it('an auto pool gets local nodes, runs the job, and goes with its nodes when the job completes', async () => {
    const jobId = uid('job-auto');
    await client.job.add({
      id: jobId,
      poolInfo: {
        autoPoolSpecification: {
          autoPoolIdPrefix: 'auto',
          poolLifetimeOption: 'job',
          pool: { vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1 },
        },
      },
    });
    // A job with no tasks counts as all complete: add its task first, then ask for termination.
    await client.task.add(jobId, { id: 'a', commandLine: '/bin/true' });
    await client.job.patch(jobId, { onAllTasksComplete: 'terminatejob' });
    const poolId = (await client.job.get(jobId)).executionInfo!.poolId!;
    assert.match(poolId, /^auto_/);
    await waitForTask(client, jobId, 'a', 'completed', 30_000);
    await waitFor('the job to complete', async () => ((await client.job.get(jobId)).state === 'completed' ? true : undefined));
    await waitFor('the auto pool to be gone', async () => {
      try {
        await client.pool.get(poolId);
        return undefined;
      } catch (err) {
        return (err as { statusCode?: number }).statusCode === 404 ? true : undefined;
      }
    });
    const poolDir = path.join(kiln.nodesDir, 'devstoreaccount1', poolId.toLowerCase());
    await waitFor('its node directories to go', () => (fs.existsSync(poolDir) ? undefined : true));
    assert.deepEqual(processesUnder(poolDir), []);
  });

  it('a node with scheduling disabled gets no new tasks', async () => {
    const gate = uid('nosched');
    const [a, b] = (await client.computeNode.list(pools.main)).map((n) => n.id!);
    await client.computeNode.disableScheduling(pools.main, a!);
    try {
      const jobId = await newJob(pools.main);
      await client.task.addCollection(
        jobId,
        Array.from({ length: 3 }, (_, i) => ({ id: `t${i}`, commandLine: gated(gate) })),
      );
      await waitRunning(jobId, ['t0', 't1']);
      for (const id of ['t0', 't1']) assert.equal(await nodeOf(jobId, id), b);
      assert.equal((await client.task.get(jobId, 't2')).state, 'active');
      await client.computeNode.enableScheduling(pools.main, a!);
      await waitRunning(jobId, ['t2']);
      assert.equal(await nodeOf(jobId, 't2'), a);
      open(gate);
      await waitForTasks(client, jobId, 3);
    } finally {
      await client.computeNode.enableScheduling(pools.main, a!).catch(() => undefined);
    }
  });
});
