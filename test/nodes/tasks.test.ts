import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { BlobSASPermissions, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { startKiln, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, admin, alive, nodeRoot, nonAdmin, sharedTempDir, taskFile, taskFileOnDisk, taskStdout, uid, waitForNodes, waitForTask, stopKiln } from './helpers.js';

const isRoot = process.getuid?.() === 0;

describe('tasks on a local pool', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let scratch: string;
  const poolId = uid('Pool-Tasks');
  let nodeIds: string[];

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    scratch = sharedTempDir('kiln-scratch-');
    nodeIds = (await addPool(client, poolId, 2, { taskSlotsPerNode: 2 })).map((n) => n.id!);
  });

  after(() => stopKiln(kiln, scratch));

  const newJob = async (extra: Record<string, unknown> = {}) => {
    const id = uid('job');
    await client.job.add({ id, poolInfo: { poolId }, ...extra });
    return id;
  };

  it('runs a task with the AZ_BATCH_* environment, its settings and the job common settings, in its working directory', async () => {
    const jobId = await newJob({
      commonEnvironmentSettings: [
        { name: 'COMMON', value: 'from the job' },
        { name: 'OVERRIDDEN', value: 'job' },
      ],
    });
    await client.task.add(jobId, {
      id: 'env',
      commandLine: `/bin/sh -c 'env; echo written > result.txt; mkdir -p sub && echo deep > sub/deep.txt'`,
      environmentSettings: [
        { name: 'MINE', value: 'a value with spaces' },
        { name: 'OVERRIDDEN', value: 'task' },
      ],
    });
    const task = await waitForTask(client, jobId, 'env');
    assert.equal(task.executionInfo?.result, 'success');
    assert.equal(task.executionInfo?.exitCode, 0);
    assert.equal(task.executionInfo?.retryCount, 0);
    assert.equal(task.executionInfo?.requeueCount, 0);
    assert.ok(task.executionInfo?.startTime && task.executionInfo.endTime);
    const nodeId = task.nodeInfo!.nodeId!;
    assert.ok(nodeIds.includes(nodeId));
    assert.equal(task.nodeInfo?.poolId, poolId);
    assert.equal(task.nodeInfo?.taskRootDirectory, `workitems/${jobId}/job-1/env`);

    const env = Object.fromEntries(
      (await taskStdout(kiln, client, jobId, 'env'))
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    ) as Record<string, string>;
    const root = nodeRoot(kiln, poolId, nodeId);
    const taskDir = path.join(root, 'workitems', jobId, 'job-1', 'env');
    const wd = path.join(taskDir, 'wd');
    const expected: Record<string, string> = {
      AZ_BATCH_ACCOUNT_NAME: 'devstoreaccount1',
      AZ_BATCH_ACCOUNT_URL: `${kiln.batchUrl}/`,
      AZ_BATCH_POOL_ID: poolId,
      AZ_BATCH_NODE_ID: nodeId,
      AZ_BATCH_NODE_IS_DEDICATED: 'true',
      AZ_BATCH_NODE_ROOT_DIR: root,
      AZ_BATCH_NODE_SHARED_DIR: path.join(root, 'shared'),
      AZ_BATCH_NODE_STARTUP_DIR: path.join(root, 'startup'),
      AZ_BATCH_NODE_MOUNTS_DIR: path.join(root, 'fsmounts'),
      AZ_BATCH_JOB_ID: jobId,
      AZ_BATCH_TASK_ID: 'env',
      AZ_BATCH_TASK_DIR: taskDir,
      AZ_BATCH_TASK_WORKING_DIR: wd,
      AZ_BATCH_CERTIFICATES_DIR: path.join(taskDir, 'certs'),
      AZ_BATCH_TASK_USER_IDENTITY: 'PoolNonAdmin',
      HOME: wd,
      PWD: wd,
      COMMON: 'from the job',
      MINE: 'a value with spaces',
      OVERRIDDEN: 'task',
    };
    for (const [name, value] of Object.entries(expected)) assert.equal(env[name], value, name);
    if (isRoot) {
      assert.equal(env['AZ_BATCH_TASK_USER'], '_azbatch');
      assert.equal(env['USER'], '_azbatch');
    }
    assert.ok(env['PATH']!.endsWith(`:${path.join(root, 'shared')}:${wd}`), env['PATH']);
    assert.equal(env['AZ_BATCH_JOB_PREP_DIR'], undefined);
    assert.equal(await taskFile(kiln, client, jobId, 'env', 'wd/result.txt'), 'written\n');
    assert.equal(await taskFile(kiln, client, jobId, 'env', 'wd/sub/deep.txt'), 'deep\n');
    assert.equal(await taskFile(kiln, client, jobId, 'env', 'stderr.txt'), '');
    // The API serves what the node's disk holds, where the layout says.
    assert.equal(await taskFileOnDisk(kiln, client, jobId, 'env', 'wd/sub/deep.txt'), 'deep\n');
    assert.ok(fs.existsSync(path.join(taskDir, 'stdout.txt')));
  });

  it('runs the command line without a shell', async () => {
    const jobId = await newJob();
    await client.task.add(jobId, { id: 'literal', commandLine: `/bin/echo $HOME "two  spaces" 'single $X' a\\ b` });
    await waitForTask(client, jobId, 'literal');
    assert.equal(await taskStdout(kiln, client, jobId, 'literal'), '$HOME two  spaces single $X a b\n');
  });

  it('reports a failing exit code as a completed failure', async () => {
    const jobId = await newJob();
    await client.task.add(jobId, { id: 'exit3', commandLine: `/bin/sh -c 'echo oops >&2; exit 3'` });
    await client.task.add(jobId, { id: 'missing', commandLine: '/no/such/program' });
    const task = await waitForTask(client, jobId, 'exit3');
    assert.equal(task.executionInfo?.result, 'failure');
    assert.equal(task.executionInfo?.exitCode, 3);
    assert.equal(task.executionInfo?.failureInfo?.category, 'usererror');
    assert.equal(task.executionInfo?.failureInfo?.code, 'FailureExitCode');
    assert.equal(await taskFile(kiln, client, jobId, 'exit3', 'stderr.txt'), 'oops\n');
    const missing = await waitForTask(client, jobId, 'missing');
    assert.equal(missing.executionInfo?.result, 'failure');
    assert.equal(missing.executionInfo?.failureInfo?.code, 'CommandProgramNotFound');
    const counts = await client.job.getTaskCounts(jobId);
    assert.equal(counts.taskCounts.failed, 2);
    assert.equal(counts.taskCounts.completed, 2);
  });

  it('retries a failing task maxTaskRetryCount times, and a task that then succeeds', async () => {
    const jobId = await newJob({ constraints: { maxTaskRetryCount: 1 } });
    const runs = path.join(scratch, jobId);
    fs.mkdirSync(runs, { mode: 0o777 });
    fs.chmodSync(runs, 0o777);
    await client.task.add(jobId, { id: 'always', commandLine: `/bin/sh -c 'echo run >> ${runs}/always; exit 5'`, constraints: { maxTaskRetryCount: 2 } });
    // The job's maxTaskRetryCount (1) applies: the second run succeeds.
    await client.task.add(jobId, { id: 'second', commandLine: `/bin/sh -c 'echo run >> ${runs}/second; [ $(wc -l < ${runs}/second) -ge 2 ]'` });
    const always = await waitForTask(client, jobId, 'always');
    assert.equal(always.executionInfo?.retryCount, 2);
    assert.ok(always.executionInfo?.lastRetryTime);
    assert.equal(always.executionInfo?.requeueCount, 0);
    assert.equal(always.executionInfo?.exitCode, 5);
    assert.equal(always.executionInfo?.result, 'failure');
    assert.equal(always.executionInfo?.failureInfo?.code, 'FailureExitCode');
    assert.equal(fs.readFileSync(`${runs}/always`, 'utf8'), 'run\nrun\nrun\n');
    const second = await waitForTask(client, jobId, 'second');
    assert.equal(second.constraints?.maxTaskRetryCount, 1);
    assert.equal(second.executionInfo?.retryCount, 1);
    assert.equal(second.executionInfo?.result, 'success');
    assert.equal(second.executionInfo?.exitCode, 0);
    assert.equal(second.executionInfo?.failureInfo, undefined);
    assert.equal(fs.readFileSync(`${runs}/second`, 'utf8'), 'run\nrun\n');
  });

  it('fails a task whose resource file is missing, without retrying it', async () => {
    const container = kiln.blobService().getContainerClient(uid('res'));
    await container.create();
    const url = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: new Date(Date.now() + 3600_000) });
    const [base, query] = url.split('?');
    await container.getBlockBlobClient('here.txt').upload('here\n', 5);
    const jobId = await newJob();
    await client.task.add(jobId, {
      id: 'nofile',
      commandLine: '/bin/true',
      resourceFiles: [
        { httpUrl: `${base}/here.txt?${query}`, filePath: 'here.txt' },
        { httpUrl: `${base}/absent.txt?${query}`, filePath: 'absent.txt' },
      ],
      constraints: { maxTaskRetryCount: 3 },
    });
    await client.task.add(jobId, { id: 'withfile', commandLine: '/bin/cat in/here.txt', resourceFiles: [{ httpUrl: `${base}/here.txt?${query}`, filePath: 'in/here.txt' }] });
    const task = await waitForTask(client, jobId, 'nofile');
    assert.equal(task.executionInfo?.result, 'failure');
    assert.equal(task.executionInfo?.failureInfo?.code, 'BlobNotFound');
    assert.equal(task.executionInfo?.retryCount, 0);
    assert.equal(task.executionInfo?.exitCode, undefined);
    await waitForTask(client, jobId, 'withfile');
    assert.equal(await taskStdout(kiln, client, jobId, 'withfile'), 'here\n');
  });

  it('kills a task and the processes it started at its maxWallClockTime', async () => {
    const jobId = await newJob();
    const pidFile = path.join(scratch, `${jobId}.pid`);
    await client.task.add(jobId, {
      id: 'sleepy',
      commandLine: `/bin/sh -c '/bin/sleep 300 & echo $! > ${pidFile}; wait'`,
      constraints: { maxWallClockTime: 'PT1S' },
    });
    const grandchild = await waitFor('the grandchild pid', () =>
      fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() ? Number(fs.readFileSync(pidFile, 'utf8')) : undefined,
    );
    const started = Date.now();
    const task = await waitForTask(client, jobId, 'sleepy', 'completed', 15_000);
    assert.ok(Date.now() - started < 10_000);
    assert.equal(task.executionInfo?.result, 'failure');
    assert.equal(task.executionInfo?.failureInfo?.category, 'usererror');
    assert.ok(task.executionInfo?.failureInfo?.code);
    assert.equal(alive(grandchild), false, 'the sleeping grandchild is killed with its task');
  });

  it('uploads output files to a container on success, failure or completion, and reports upload errors', async () => {
    const container: ContainerClient = kiln.blobService().getContainerClient(uid('out'));
    await container.create();
    const writeUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('rcw'), expiresOn: new Date(Date.now() + 3600_000) });
    const readOnlyUrl = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
    const destination = (p: string | undefined, url = writeUrl) => ({ container: { containerUrl: url, ...(p ? { path: p } : {}) } });
    const upload = (filePattern: string, p: string | undefined, uploadCondition: 'tasksuccess' | 'taskfailure' | 'taskcompletion', url?: string) => ({
      filePattern,
      destination: destination(p, url),
      uploadOptions: { uploadCondition },
    });
    const jobId = await newJob();
    const write = `mkdir -p out/sub; echo a > out/a.txt; echo b > out/sub/b.txt; echo single > result.txt`;
    await client.task.add(jobId, {
      id: 'ok',
      commandLine: `/bin/sh -c '${write}; echo stdout-of-ok'`,
      outputFiles: [
        upload('out/**/*', 'ok/out', 'tasksuccess'),
        upload('result.txt', 'ok/single/result.txt', 'tasksuccess'),
        upload('../stdout.txt', 'ok/logs/stdout.txt', 'taskcompletion'),
        upload('result.txt', 'ok/never.txt', 'taskfailure'),
      ],
    });
    await client.task.add(jobId, {
      id: 'bad',
      commandLine: `/bin/sh -c '${write}; exit 2'`,
      outputFiles: [
        upload('out/*.txt', 'bad/out', 'taskfailure'),
        upload('result.txt', 'bad/never.txt', 'tasksuccess'),
        upload('../stderr.txt', 'bad/stderr.txt', 'taskcompletion'),
      ],
    });
    await client.task.add(jobId, { id: 'denied', commandLine: `/bin/sh -c '${write}'`, outputFiles: [upload('result.txt', 'denied/result.txt', 'tasksuccess', readOnlyUrl)] });
    const ok = await waitForTask(client, jobId, 'ok');
    assert.equal(ok.executionInfo?.result, 'success');
    const bad = await waitForTask(client, jobId, 'bad');
    assert.equal(bad.executionInfo?.exitCode, 2);
    const denied = await waitForTask(client, jobId, 'denied');
    assert.equal(denied.executionInfo?.result, 'failure', 'an upload that fails fails the task');
    assert.equal(denied.executionInfo?.exitCode, 0);
    assert.equal(denied.executionInfo?.failureInfo?.category, 'usererror');
    assert.match(denied.executionInfo?.failureInfo?.code ?? '', /^FileUpload/);

    const names: string[] = [];
    for await (const blob of container.listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names.sort(), ['bad/out/a.txt', 'bad/stderr.txt', 'ok/logs/stdout.txt', 'ok/out/a.txt', 'ok/out/sub/b.txt', 'ok/single/result.txt']);
    const text = async (name: string) => (await container.getBlobClient(name).downloadToBuffer()).toString();
    assert.equal(await text('ok/out/sub/b.txt'), 'b\n');
    assert.equal(await text('ok/single/result.txt'), 'single\n');
    assert.equal(await text('ok/logs/stdout.txt'), 'stdout-of-ok\n');
  });

  it('runs non-admin tasks as an unprivileged user that cannot write where only root can, and admin tasks as root', async () => {
    const rootOnly = tempDir('kiln-rootonly-');
    fs.chmodSync(rootOnly, 0o755);
    try {
      const jobId = await newJob();
      const cmd = (name: string) => `/bin/sh -c 'id -u; touch ${rootOnly}/${name}'`;
      await client.task.add(jobId, { id: 'user', commandLine: cmd('user'), userIdentity: nonAdmin });
      await client.task.add(jobId, { id: 'default', commandLine: cmd('default') });
      await client.task.add(jobId, { id: 'admin', commandLine: cmd('admin'), userIdentity: admin });
      for (const id of ['user', 'default']) {
        const task = await waitForTask(client, jobId, id);
        assert.equal(task.executionInfo?.result, 'failure', id);
        assert.notEqual((await taskStdout(kiln, client, jobId, id)).trim(), '0');
        assert.match(await taskFile(kiln, client, jobId, id, 'stderr.txt'), /Permission denied/);
        assert.ok(!fs.existsSync(path.join(rootOnly, id)));
      }
      const task = await waitForTask(client, jobId, 'admin');
      assert.equal(task.executionInfo?.result, 'success');
      assert.equal((await taskStdout(kiln, client, jobId, 'admin')).trim(), '0');
      assert.ok(fs.existsSync(path.join(rootOnly, 'admin')));
      // The unprivileged user owns its working directory.
      await client.task.add(jobId, {
        id: 'own',
        commandLine: `/bin/sh -c 'echo $AZ_BATCH_TASK_USER_IDENTITY; touch "$AZ_BATCH_TASK_WORKING_DIR/mine" "$AZ_BATCH_NODE_SHARED_DIR/shared-$$"'`,
        userIdentity: { autoUser: { scope: 'task', elevationLevel: 'nonadmin' } },
      });
      const own = await waitForTask(client, jobId, 'own');
      assert.equal(own.executionInfo?.result, 'success');
      assert.equal(await taskStdout(kiln, client, jobId, 'own'), 'TaskNonAdmin\n');
    } finally {
      fs.rmSync(rootOnly, { recursive: true, force: true });
    }
  });

  it('terminating a running task kills its process and frees its node', async () => {
    const jobId = await newJob();
    const pidFile = path.join(scratch, `${jobId}.pid`);
    await client.task.add(jobId, { id: 'long', commandLine: `/bin/sh -c 'echo $$ > ${pidFile}; exec /bin/sleep 300'` });
    await waitForTask(client, jobId, 'long', 'running');
    const pid = await waitFor('the task pid', () => (fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim() ? Number(fs.readFileSync(pidFile, 'utf8')) : undefined));
    const nodeId = (await client.task.get(jobId, 'long')).nodeInfo!.nodeId!;
    await waitFor('the node to count the task', async () => ((await client.computeNode.get(poolId, nodeId)).runningTasksCount === 1 ? true : undefined));
    await client.task.terminate(jobId, 'long');
    const task = await client.task.get(jobId, 'long');
    assert.equal(task.state, 'completed');
    assert.equal(task.executionInfo?.failureInfo?.code, 'TaskEnded');
    await waitFor('the task process to die', () => (alive(pid) ? undefined : true));
    const node = await waitFor('the node to be free', async () => {
      const n = await client.computeNode.get(poolId, nodeId);
      return n.runningTasksCount === 0 ? n : undefined;
    });
    assert.equal(node.runningTaskSlotsCount, 0);
    await waitForNodes(client, poolId, 2, ['idle']);
    // A late report of the killed run changes nothing.
    assert.equal((await client.task.get(jobId, 'long')).executionInfo?.failureInfo?.code, 'TaskEnded');
  });

  it('runs the job preparation task before the first task on a node and the release task when the job ends', async () => {
    const marks = path.join(scratch, uid('marks'));
    fs.mkdirSync(marks, { mode: 0o777 });
    fs.chmodSync(marks, 0o777);
    const jobId = await newJob({
      jobPreparationTask: { commandLine: `/bin/sh -c 'echo prepared > prep.txt; echo prep >> ${marks}/$AZ_BATCH_NODE_ID'` },
      jobReleaseTask: { commandLine: `/bin/sh -c 'echo release >> ${marks}/$AZ_BATCH_NODE_ID'` },
    });
    for (let i = 0; i < 4; i++) await client.task.add(jobId, { id: `t${i}`, commandLine: `/bin/sh -c 'cat "$AZ_BATCH_JOB_PREP_WORKING_DIR/prep.txt"'` });
    for (let i = 0; i < 4; i++) {
      const task = await waitForTask(client, jobId, `t${i}`);
      assert.equal(task.executionInfo?.result, 'success', `t${i}`);
      assert.equal(await taskStdout(kiln, client, jobId, `t${i}`), 'prepared\n');
    }
    const used = fs.readdirSync(marks);
    assert.ok(used.length >= 1);
    for (const node of used) assert.equal(fs.readFileSync(path.join(marks, node), 'utf8'), 'prep\n', 'one preparation per node');
    const prepared = await client.job.listPreparationAndReleaseTaskStatus(jobId);
    assert.deepEqual(prepared.map((s) => s.nodeId).sort(), [...used].sort(), 'one status per node that ran the job');
    for (const s of prepared) {
      assert.equal(s.jobPreparationTaskExecutionInfo?.state, 'completed');
      assert.equal(s.jobPreparationTaskExecutionInfo?.result, 'success');
      assert.equal(s.jobPreparationTaskExecutionInfo?.exitCode, 0);
      assert.equal(s.jobReleaseTaskExecutionInfo, undefined, 'no release before the job ends');
    }
    await client.job.terminate(jobId);
    await waitFor('the release tasks', () => (used.every((node) => fs.readFileSync(path.join(marks, node), 'utf8') === 'prep\nrelease\n') ? true : undefined));
    assert.equal((await client.job.get(jobId)).state, 'completed');
    const released = await waitFor('release statuses', async () => {
      const list = await client.job.listPreparationAndReleaseTaskStatus(jobId);
      return list.every((s) => s.jobReleaseTaskExecutionInfo?.state === 'completed') ? list : undefined;
    });
    for (const s of released) assert.equal(s.jobReleaseTaskExecutionInfo?.result, 'success');
  });

  it('a task is preparing while the job preparation task runs on its node, then running', async () => {
    const gate = path.join(scratch, uid('prep-gate'));
    const jobId = await newJob({ jobPreparationTask: { commandLine: `/bin/sh -c 'while [ ! -e ${gate} ]; do sleep 0.02; done'` } });
    await client.task.add(jobId, { id: 'waits', commandLine: `/bin/sh -c 'echo "$AZ_BATCH_JOB_PREP_DIR"'` });
    const preparing = await waitForTask(client, jobId, 'waits', 'preparing');
    assert.ok(preparing.nodeInfo?.nodeId);
    fs.writeFileSync(gate, '');
    const task = await waitForTask(client, jobId, 'waits');
    assert.equal(task.executionInfo?.result, 'success');
    assert.equal(task.previousState, 'running');
    const root = nodeRoot(kiln, poolId, task.nodeInfo!.nodeId!);
    assert.equal(await taskStdout(kiln, client, jobId, 'waits'), `${path.join(root, 'workitems', jobId, 'job-1', 'jobpreparation')}\n`);
  });

  it("reads a running task's growing stdout through the task files API", async () => {
    const jobId = await newJob();
    await client.task.add(jobId, { id: 'chatty', commandLine: `/bin/sh -c 'echo started; while :; do echo some output to grow the file; done'` });
    await waitForTask(client, jobId, 'chatty', 'running');
    await waitFor('some output', async () => ((await taskStdout(kiln, client, jobId, 'chatty')).length > 10_000 ? true : undefined));
    for (let i = 0; i < 5; i++) {
      const text = await taskStdout(kiln, client, jobId, 'chatty');
      assert.ok(text.startsWith('started\n'));
      const properties = await client.file.getPropertiesFromTask(jobId, 'chatty', 'stdout.txt');
      assert.ok(Number(properties.contentLength) >= text.length);
    }
    const part = await client.file.getFromTask(jobId, 'chatty', 'stdout.txt', { fileGetFromTaskOptions: { ocpRange: 'bytes=0-6' } });
    const chunks: Buffer[] = [];
    for await (const chunk of part.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
    assert.equal(Buffer.concat(chunks).toString(), 'started');
    await client.task.terminate(jobId, 'chatty');
    // The connection the reads used still serves other requests.
    assert.equal((await client.job.get(jobId)).id, jobId);
  });

  it("runs a task under a pool's named user account with that account's elevation", async () => {
    const named = uid('Pool-Named');
    await addPool(client, named, 1, {
      userAccounts: [
        { name: 'boss', password: 'unused-1', elevationLevel: 'admin' },
        { name: 'worker', password: 'unused-2', elevationLevel: 'nonadmin' },
      ],
    });
    const jobId = uid('job');
    await client.job.add({ id: jobId, poolInfo: { poolId: named } });
    await client.task.add(jobId, { id: 'as-boss', commandLine: 'id -u', userIdentity: { userName: 'boss' } });
    await client.task.add(jobId, { id: 'as-worker', commandLine: 'id -u', userIdentity: { userName: 'worker' } });
    await waitForTask(client, jobId, 'as-boss');
    await waitForTask(client, jobId, 'as-worker');
    const bossUid = (await taskStdout(kiln, client, jobId, 'as-boss')).trim();
    const workerUid = (await taskStdout(kiln, client, jobId, 'as-worker')).trim();
    if (isRoot) {
      assert.equal(bossUid, '0', 'an admin account runs as root');
      assert.notEqual(workerUid, '0', 'a non-admin account does not');
    } else {
      assert.equal(bossUid, workerUid, 'without root, both run as the agent user');
    }
    await client.pool.deleteMethod(named);
  });

  it('removes a task directory once its retentionTime has passed, and keeps the others', async () => {
    const jobId = await newJob();
    await client.task.add(jobId, { id: 'brief', commandLine: '/bin/true', constraints: { retentionTime: 'PT1S' } });
    await client.task.add(jobId, { id: 'kept', commandLine: '/bin/true' });
    const brief = await waitForTask(client, jobId, 'brief');
    const kept = await waitForTask(client, jobId, 'kept');
    const dirOf = (t: typeof brief) => path.join(nodeRoot(kiln, poolId, t.nodeInfo!.nodeId!), 'workitems', jobId, 'job-1', t.id!);
    assert.ok(fs.existsSync(dirOf(kept)));
    await waitFor('the expired task directory to go', () => (fs.existsSync(dirOf(brief)) ? undefined : true), 10_000);
    await assert.rejects(client.file.getFromTask(jobId, 'brief', 'stdout.txt'), (e: { statusCode?: number }) => e.statusCode === 404);
    assert.ok(fs.existsSync(path.join(dirOf(kept), 'stdout.txt')), 'the default retention is 7 days');
    const files = await client.file.listFromTask(jobId, 'kept');
    assert.deepEqual(files.map((f) => f.name).sort(), ['stderr.txt', 'stdout.txt', 'wd'], 'the retention record is not among the task files');
  });

  it('a blob SAS URL the node cannot read fails the task with BlobAccessDenied', async () => {
    const container = kiln.blobService().getContainerClient(uid('deny'));
    await container.create();
    const blob = container.getBlockBlobClient('x.txt');
    await blob.upload('x', 1);
    const url = await blob.generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) });
    const jobId = await newJob();
    await client.task.add(jobId, { id: 'denied', commandLine: '/bin/true', resourceFiles: [{ httpUrl: url.replace('x.txt', 'y.txt'), filePath: 'y.txt' }] });
    const task = await waitForTask(client, jobId, 'denied');
    assert.equal(task.executionInfo?.failureInfo?.code, 'BlobAccessDenied');
  });
});
