import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { KILN_BIN, startKiln, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, agentPids, alive, gates, nodeRoot, processesUnder, sharedTempDir, taskStdout, uid, vm, waitForNodes, waitForTask, waitForTasks, stopKiln } from './helpers.js';

describe('compute nodes: loss, resize, node operations and pool deletion', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let dir: string;

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    dir = sharedTempDir('kiln-nodes-test-');
  });

  after(() => stopKiln(kiln, dir));

  const { gated, open, pids, lines } = gates(() => dir);
  const newJob = async (poolId: string) => {
    const id = uid('job');
    await client.job.add({ id, poolInfo: { poolId } });
    return id;
  };
  const nodeState = async (poolId: string, nodeId: string) => (await client.computeNode.get(poolId, nodeId)).state;

  it('a task whose node agent is killed mid-run is requeued and completes exactly once on the other node', async () => {
    const poolId = uid('pool-loss');
    await addPool(client, poolId, 2);
    const jobId = await newJob(poolId);
    const gate = uid('loss');
    await client.task.add(jobId, { id: 'survivor', commandLine: gated(gate, `echo $AZ_BATCH_NODE_ID >> ${dir}/${gate}.done`), constraints: { maxTaskRetryCount: 0 } });
    const running = await waitForTask(client, jobId, 'survivor', 'running');
    const lost = running.nodeInfo!.nodeId!;
    await waitFor('the task process', () => (pids(gate).length === 1 ? true : undefined));
    const [firstPid] = pids(gate);
    const agents = agentPids(lost);
    assert.equal(agents.length, 1, `one agent process for ${lost}`);
    process.kill(agents[0]!, 'SIGKILL');

    // Kiln notices at once, kills the lost node's task process, and runs the task elsewhere.
    await waitFor('the first run to be killed', () => (alive(firstPid!) ? undefined : true));
    const again = await waitFor('the task to run on the other node', async () => {
      const t = await client.task.get(jobId, 'survivor');
      return t.state === 'running' && t.nodeInfo?.nodeId !== lost ? t : undefined;
    });
    assert.ok(again.executionInfo!.requeueCount! >= 1);
    assert.equal(again.executionInfo?.retryCount, 0);
    await waitFor('the second run to start', () => (pids(gate).length === 2 ? true : undefined));
    open(gate);
    const done = await waitForTask(client, jobId, 'survivor');
    assert.equal(done.executionInfo?.result, 'success');
    assert.equal(done.executionInfo?.retryCount, 0);
    assert.ok(done.executionInfo!.requeueCount! >= 1);
    assert.notEqual(done.nodeInfo?.nodeId, lost);
    assert.deepEqual(lines(`${gate}.done`), [done.nodeInfo!.nodeId]);
    assert.equal(pids(gate).length, 2, 'no third run');

    // The lost node comes back: a new agent process, idle again.
    await waitForNodes(client, poolId, 2, ['idle']);
    const back = agentPids(lost);
    assert.equal(back.length, 1);
    assert.notEqual(back[0], agents[0]);
    assert.deepEqual(lines(`${gate}.done`), [done.nodeInfo!.nodeId], 'exactly one completed run');
    await client.pool.deleteMethod(poolId);
  });

  it('a node whose agent stops answering is lost: kiln up stops the agent and its run, the task runs elsewhere, and the node comes back', async () => {
    const poolId = uid('pool-hung');
    await addPool(client, poolId, 2);
    const jobId = await newJob(poolId);
    const gate = uid('hung');
    await client.task.add(jobId, { id: 'once', commandLine: gated(gate, `echo $AZ_BATCH_NODE_ID >> ${dir}/${gate}.done`) });
    const hung = (await waitForTask(client, jobId, 'once', 'running')).nodeInfo!.nodeId!;
    await waitFor('the task process', () => (pids(gate).length === 1 ? true : undefined));
    const [agent] = agentPids(hung);
    process.kill(agent!, 'SIGSTOP');
    try {
      const moved = await waitFor(
        'the task to be requeued to the other node',
        async () => {
          const t = await client.task.get(jobId, 'once');
          return t.state === 'running' && t.nodeInfo?.nodeId !== hung ? t : undefined;
        },
        40_000,
      );
      assert.equal(moved.executionInfo?.requeueCount, 1);
      assert.equal(moved.executionInfo?.retryCount, 0);
      assert.ok(['unusable', 'offline'].includes((await nodeState(poolId, hung))!));
    } finally {
      try {
        process.kill(agent!, 'SIGCONT');
      } catch {
        // kiln up killed the hung agent before requeuing its task (docs/security.md, section 6)
      }
    }
    assert.equal(alive(agent!), false, 'the hung agent was killed');
    // Its run was gone before the task was requeued; a new agent brings the node back.
    await waitFor('the first run to be stopped', () => (alive(pids(gate)[0]!) ? undefined : true), 40_000);
    await waitFor('the hung node to be idle again', async () => ((await nodeState(poolId, hung)) === 'idle' ? true : undefined), 40_000);
    await waitFor('the second run', () => (pids(gate).length === 2 ? true : undefined));
    open(gate);
    const done = await waitForTask(client, jobId, 'once');
    assert.equal(done.executionInfo?.result, 'success');
    assert.notEqual(done.nodeInfo?.nodeId, hung);
    assert.deepEqual(lines(`${gate}.done`), [done.nodeInfo!.nodeId]);
    await client.pool.deleteMethod(poolId);
  });

  it('a remote agent (kiln agent with the pool join token) joins, runs tasks, and is lost when it stops', async () => {
    const poolId = uid('pool-remote');
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
    const root = tempDir('kiln-remote-');
    fs.chmodSync(root, 0o755);
    const env = { ...process.env, KILN_ACCOUNTS: '' };
    const token = execFileSync(process.execPath, [KILN_BIN, 'agent-token', '--pool', poolId], { encoding: 'utf8', env }).trim();
    // The join token goes by environment, never on the command line.
    const agentArgs = (r: string) => [KILN_BIN, 'agent', '--batch-url', kiln.batchUrl, '--pool', poolId, '--root', r];
    const withToken = (t: string) => ({ ...env, KILN_AGENT_TOKEN: t });
    // A token for another pool, or a forged one, gets the agent nowhere.
    const other = execFileSync(process.execPath, [KILN_BIN, 'agent-token', '--pool', 'some-other-pool'], { encoding: 'utf8', env }).trim();
    for (const bad of [other, `${token.slice(0, -4)}AAAA`]) {
      const refused = spawnSync(process.execPath, agentArgs(path.join(root, 'bad')), { encoding: 'utf8', timeout: 20_000, env: withToken(bad) });
      assert.notEqual(refused.status, 0, 'a bad token is refused');
      assert.match(refused.stderr, /40[13]/);
    }
    const agent = spawn(process.execPath, agentArgs(root), { stdio: 'ignore', env: withToken(token) });
    try {
      const [node] = await waitForNodes(client, poolId, 1, ['idle']);
      const pool = await client.pool.get(poolId);
      assert.equal(pool.allocationState, 'steady', 'the pool grew by the node that joined');
      assert.equal(pool.currentDedicatedNodes, 1);
      assert.equal(pool.targetDedicatedNodes, 1);
      const jobId = await newJob(poolId);
      await client.task.add(jobId, { id: 'remote', commandLine: `/bin/sh -c 'echo $AZ_BATCH_NODE_ROOT_DIR'` });
      const task = await waitForTask(client, jobId, 'remote');
      assert.equal(task.nodeInfo?.nodeId, node!.id);
      assert.equal(fs.readFileSync(path.join(root, 'workitems', jobId, 'job-1', 'remote', 'stdout.txt'), 'utf8'), `${root}\n`);

      // The agent goes away without a word: the node is lost once its heartbeats stop.
      agent.kill('SIGKILL');
      await waitForNodes(client, poolId, 1, ['unusable', 'offline'], 30_000);
      await client.pool.removeNodes(poolId, { nodeList: [node!.id!] });
      await waitForNodes(client, poolId, 0);
      const after = await client.pool.get(poolId);
      assert.equal(after.targetDedicatedNodes, 0);
      assert.equal(after.allocationState, 'steady');
    } finally {
      agent.kill('SIGKILL');
      fs.rmSync(root, { recursive: true, force: true });
    }
    await client.pool.deleteMethod(poolId);
  });

  it('resizes a pool down (idle nodes first, running tasks untouched) and up', async () => {
    const poolId = uid('pool-resize');
    const initial = await addPool(client, poolId, 3);
    const jobId = await newJob(poolId);
    const gate = uid('resize');
    await client.task.add(jobId, { id: 'busy', commandLine: gated(gate) });
    const busy = (await waitForTask(client, jobId, 'busy', 'running')).nodeInfo!.nodeId!;

    await client.pool.resize(poolId, { targetDedicatedNodes: 1 });
    const [kept] = await waitForNodes(client, poolId, 1, ['running']);
    assert.equal(kept!.id, busy, 'the node running a task stays');
    const pool = await waitFor('the pool to be steady', async () => {
      const p = await client.pool.get(poolId);
      return p.allocationState === 'steady' ? p : undefined;
    });
    assert.equal(pool.currentDedicatedNodes, 1);
    assert.equal(pool.targetDedicatedNodes, 1);
    for (const node of initial.filter((n) => n.id !== busy)) {
      await waitFor(`the agent of ${node.id} to stop`, () => (agentPids(node.id!).length === 0 ? true : undefined));
      assert.ok(!fs.existsSync(nodeRoot(kiln, poolId, node.id!)), 'a removed node leaves no directory');
    }
    assert.equal((await client.task.get(jobId, 'busy')).state, 'running');
    assert.equal((await client.task.get(jobId, 'busy')).executionInfo?.requeueCount, 0);

    await client.pool.resize(poolId, { targetDedicatedNodes: 2 });
    const nodes = await waitForNodes(client, poolId, 2, ['idle', 'running']);
    const grown = await waitFor('the pool to be steady', async () => {
      const p = await client.pool.get(poolId);
      return p.allocationState === 'steady' ? p : undefined;
    });
    assert.equal(grown.currentDedicatedNodes, 2);
    const added = nodes.find((n) => n.id !== busy)!;
    await waitForNodes(client, poolId, 2, ['idle', 'running']);
    assert.equal(agentPids(added.id!).length, 1);
    open(gate);
    await waitForTask(client, jobId, 'busy');
    const counts = await client.account.listPoolNodeCounts();
    const mine = counts.find((c) => c.poolId === poolId)!;
    assert.equal(mine.dedicated!.total, 2);
    await client.pool.deleteMethod(poolId);
  });

  it('reboot and reimage restart a node (with its start task), requeue or end its task; disablescheduling and removenodes', async () => {
    const poolId = uid('pool-ops');
    const boots = uid('boots');
    const nodes = await addPool(client, poolId, 2, {
      startTask: { commandLine: `/bin/sh -c 'echo boot >> "$AZ_BATCH_NODE_SHARED_DIR/boots"; echo $AZ_BATCH_NODE_ID >> ${dir}/${boots}'`, waitForSuccess: true },
    });
    const jobId = await newJob(poolId);

    // Reboot (requeue): the task goes back to the queue and runs on the other node.
    const gate = uid('reboot');
    await client.task.add(jobId, { id: 'r', commandLine: gated(gate) });
    const first = (await waitForTask(client, jobId, 'r', 'running')).nodeInfo!.nodeId!;
    await waitFor('the task process', () => (pids(gate).length === 1 ? true : undefined));
    const bootTime = (await client.computeNode.get(poolId, first)).lastBootTime!;
    await client.computeNode.reboot(poolId, first);
    assert.equal(await nodeState(poolId, first), 'rebooting');
    await waitFor('the first run to be killed', () => (alive(pids(gate)[0]!) ? undefined : true));
    const moved = await waitFor('the task to move', async () => {
      const t = await client.task.get(jobId, 'r');
      return t.state === 'running' && t.nodeInfo?.nodeId !== first ? t : undefined;
    });
    assert.equal(moved.executionInfo?.requeueCount, 1);
    await waitFor('the rebooted node to be idle', async () => ((await nodeState(poolId, first)) === 'idle' ? true : undefined));
    const rebooted = await client.computeNode.get(poolId, first);
    assert.ok(rebooted.lastBootTime! > bootTime);
    assert.equal(rebooted.startTaskInfo?.result, 'success');
    assert.equal(fs.readFileSync(path.join(nodeRoot(kiln, poolId, first), 'shared/boots'), 'utf8'), 'boot\nboot\n', 'the start task ran again; the disk survived');
    open(gate);
    await waitForTask(client, jobId, 'r');

    // Reboot with terminate: the running task ends.
    const gate2 = uid('reboot-term');
    await client.task.add(jobId, { id: 't', commandLine: gated(gate2) });
    const second = (await waitForTask(client, jobId, 't', 'running')).nodeInfo!.nodeId!;
    await waitFor('the task process', () => (pids(gate2).length === 1 ? true : undefined));
    await client.computeNode.reboot(poolId, second, { nodeRebootOption: 'terminate' });
    const ended = await waitForTask(client, jobId, 't');
    assert.equal(ended.executionInfo?.failureInfo?.code, 'TaskEnded');
    await waitFor('the task process to die', () => (alive(pids(gate2)[0]!) ? undefined : true));
    assert.equal(pids(gate2).length, 1, 'an ended task does not run again');
    await waitForNodes(client, poolId, 2, ['idle']);

    // Reimage: the node's disk is wiped, then its start task runs again.
    await client.computeNode.reimage(poolId, first);
    // An idle node's agent wipes its disk and joins again within milliseconds: by the next call the
    // node may be back already, waiting for its start task (the boots below show that it restarted).
    assert.ok(['reimaging', 'starting', 'waitingforstarttask'].includes((await nodeState(poolId, first))!), 'the node is reimaging, or back from it');
    await waitFor('the reimaged node to be idle', async () => ((await nodeState(poolId, first)) === 'idle' ? true : undefined));
    assert.equal(fs.readFileSync(path.join(nodeRoot(kiln, poolId, first), 'shared/boots'), 'utf8'), 'boot\n');
    // Joined, rebooted, (perhaps rebooted again to end task t,) reimaged.
    assert.equal(lines(boots).filter((n) => n === first).length, second === first ? 4 : 3);

    // Disable scheduling (requeue): the running task moves; the node gets nothing new.
    const gate3 = uid('disable');
    await client.task.add(jobId, { id: 'd', commandLine: gated(gate3) });
    const third = (await waitForTask(client, jobId, 'd', 'running')).nodeInfo!.nodeId!;
    await client.computeNode.disableScheduling(poolId, third, { nodeDisableSchedulingOption: 'requeue' });
    const elsewhere = await waitFor('the task to move', async () => {
      const t = await client.task.get(jobId, 'd');
      return t.state === 'running' && t.nodeInfo?.nodeId !== third ? t : undefined;
    });
    assert.equal(elsewhere.executionInfo?.requeueCount, 1);
    const disabled = await client.computeNode.get(poolId, third);
    assert.equal(disabled.schedulingState, 'disabled');
    assert.equal(disabled.state, 'idle');
    await client.computeNode.enableScheduling(poolId, third);
    open(gate3);
    await waitForTask(client, jobId, 'd');

    // Remove a node: it leaves, its agent stops, its directory goes, and the target shrinks.
    const [gone, stays] = [nodes[0]!.id!, nodes[1]!.id!];
    await client.pool.removeNodes(poolId, { nodeList: [gone] });
    await waitForNodes(client, poolId, 1, ['idle']);
    assert.equal((await client.computeNode.list(poolId))[0]!.id, stays);
    await waitFor('the removed agent to stop', () => (agentPids(gone).length === 0 ? true : undefined));
    assert.ok(!fs.existsSync(nodeRoot(kiln, poolId, gone)));
    const pool = await client.pool.get(poolId);
    assert.equal(pool.targetDedicatedNodes, 1);
    assert.equal(pool.currentDedicatedNodes, 1);
    assert.equal(pool.allocationState, 'steady');
    await client.pool.deleteMethod(poolId);
  });

  it('deleting a pool stops its agents and their tasks and removes its node directories', async () => {
    const poolId = uid('Pool-Delete');
    const nodes = await addPool(client, poolId, 2);
    const jobId = await newJob(poolId);
    const gate = uid('delete');
    await client.task.addCollection(jobId, [
      { id: 'a', commandLine: gated(gate) },
      { id: 'b', commandLine: gated(gate) },
    ]);
    await waitFor('both tasks running', async () => ((await client.task.list(jobId)).every((t) => t.state === 'running') ? true : undefined));
    await waitFor('both task processes', () => (pids(gate).length === 2 ? true : undefined));
    const poolDir = path.dirname(nodeRoot(kiln, poolId, nodes[0]!.id!));
    assert.ok(fs.existsSync(poolDir));
    await client.pool.deleteMethod(poolId);
    await waitFor('the pool to be gone', async () => {
      try {
        await client.pool.get(poolId);
        return undefined;
      } catch (err) {
        return (err as { statusCode?: number }).statusCode === 404 ? true : undefined;
      }
    });
    for (const node of nodes) await waitFor(`the agent of ${node.id} to stop`, () => (agentPids(node.id!).length === 0 ? true : undefined));
    for (const pid of pids(gate)) await waitFor(`task process ${pid} to die`, () => (alive(pid) ? undefined : true));
    for (const node of nodes) assert.ok(!fs.existsSync(nodeRoot(kiln, poolId, node.id!)), `${node.id}'s directory is gone`);
    assert.deepEqual(processesUnder(poolDir), []);
    await waitFor('the pool directory to go', () => (fs.existsSync(poolDir) ? undefined : true));
    // Its tasks go back to the queue (the job's pool is gone, so they wait).
    for (const id of ['a', 'b']) {
      const task = await client.task.get(jobId, id);
      assert.equal(task.state, 'active');
      assert.equal(task.executionInfo?.requeueCount, 1);
    }
    // A pool of the same id can be made again, with fresh nodes.
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1 });
    await waitForNodes(client, poolId, 1, ['idle', 'running']);
    open(gate);
    await waitForTasks(client, jobId, 2);
    await client.pool.deleteMethod(poolId);
  });

  it('a pool with low-priority nodes runs them as low-priority', async () => {
    const poolId = uid('pool-spot');
    await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 0, targetLowPriorityNodes: 1 });
    const [node] = await waitForNodes(client, poolId, 1, ['idle']);
    assert.equal(node!.isDedicated, false);
    const pool = await waitFor('steady', async () => {
      const p = await client.pool.get(poolId);
      return p.allocationState === 'steady' ? p : undefined;
    });
    assert.equal(pool.currentLowPriorityNodes, 1);
    assert.equal(pool.currentDedicatedNodes, 0);
    const jobId = await newJob(poolId);
    await client.task.add(jobId, { id: 'spot', commandLine: `/bin/sh -c 'echo $AZ_BATCH_NODE_IS_DEDICATED'` });
    await waitForTask(client, jobId, 'spot');
    assert.equal(await taskStdout(kiln, client, jobId, 'spot'), 'false\n');
    await client.pool.deleteMethod(poolId);
  });
});

describe('local nodes when kiln itself dies', () => {
  it('a SIGKILLed kiln leaves no agent or task behind; restarted, it runs the interrupted task again', async () => {
    const dir = sharedTempDir('kiln-crash-');
    const first = await startKiln();
    const { dataDir, nodesDir, blobPort, batchPort } = first;
    let second: KilnProcess | undefined;
    try {
      const client = first.batchClient();
      const poolId = uid('pool-crash');
      const [node] = await addPool(client, poolId, 1);
      const jobId = uid('job');
      await client.job.add({ id: jobId, poolInfo: { poolId } });
      await client.task.add(jobId, {
        id: 'interrupted',
        commandLine: `/bin/sh -c 'echo $$ >> ${dir}/pids; while [ ! -e ${dir}/gate ]; do sleep 0.02; done; echo done >> ${dir}/done'`,
      });
      await waitForTask(client, jobId, 'interrupted', 'running');
      await waitFor('the task process', () => (fs.existsSync(`${dir}/pids`) ? true : undefined));
      const taskPid = Number(fs.readFileSync(`${dir}/pids`, 'utf8').trim());
      const [agent] = agentPids(node!.id!);
      await first.kill9();
      await waitFor('the orphaned agent to exit', () => (alive(agent!) ? undefined : true));
      await waitFor('the orphaned task to be killed', () => (alive(taskPid) ? undefined : true));
      assert.deepEqual(processesUnder(nodesDir), []);

      second = await startKiln({ dataDir, nodesDir, blobPort, batchPort });
      const again = second.batchClient();
      await waitFor('the task to run again', () => (fs.readFileSync(`${dir}/pids`, 'utf8').trim().split('\n').length === 2 ? true : undefined), 20_000);
      fs.writeFileSync(`${dir}/gate`, '');
      const task = await waitForTask(again, jobId, 'interrupted', 'completed', 20_000);
      assert.equal(task.executionInfo?.result, 'success');
      assert.ok(task.executionInfo!.requeueCount! >= 1);
      assert.equal(task.executionInfo?.retryCount, 0);
      assert.equal(fs.readFileSync(`${dir}/done`, 'utf8'), 'done\n');
      assert.equal(agentPids(node!.id!).length, 1, 'one agent for the node, not two');
    } finally {
      await second?.stop();
      await first.stop();
      assert.deepEqual(processesUnder(nodesDir), []);
      for (const d of [dataDir, nodesDir, dir]) fs.rmSync(d, { recursive: true, force: true });
    }
  });
});
