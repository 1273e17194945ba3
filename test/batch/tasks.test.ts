import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient, BatchServiceModels } from '@azure/batch';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

const vm = { imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts' }, nodeAgentSKUId: 'batch.node.ubuntu 22.04' };

async function listAll(client: BatchServiceClient, jobId: string, options?: BatchServiceModels.TaskListOptions): Promise<{ tasks: BatchServiceModels.CloudTask[]; pages: number }> {
  let page = await client.task.list(jobId, { taskListOptions: options });
  const tasks = [...page];
  let pages = 1;
  while (page.odatanextLink) {
    page = await client.task.listNext(page.odatanextLink);
    tasks.push(...page);
    pages++;
  }
  return { tasks, pages };
}

describe('Batch tasks through @azure/batch', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    await client.pool.add({ id: 'pool', vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
    await client.job.add({ id: 'job', poolInfo: { poolId: 'pool' }, usesTaskDependencies: true, onTaskFailure: 'performexitoptionsjobaction' });
  });
  after(async () => {
    await kiln.stop();
  });

  it('adds a task with everything a task may say, and gets it back', async () => {
    const res: BatchServiceModels.TaskAddResponse = await client.task.add('job', {
      id: 'full',
      displayName: 'a full task',
      commandLine: "/bin/bash -c 'echo $AZ_BATCH_TASK_ID'",
      resourceFiles: [{ httpUrl: 'http://127.0.0.1:1/in.txt', filePath: 'in.txt', fileMode: '0644' }],
      outputFiles: [
        {
          filePattern: '*.txt',
          destination: { container: { containerUrl: 'http://127.0.0.1:1/c?sig=x', path: 'out' } },
          uploadOptions: { uploadCondition: 'taskCompletion' as 'taskcompletion' },
        },
      ],
      environmentSettings: [{ name: 'A', value: '1' }],
      constraints: { maxWallClockTime: 'PT1H', maxTaskRetryCount: 3 },
      requiredSlots: 1,
      userIdentity: { autoUser: { scope: 'task', elevationLevel: 'admin' } },
      exitConditions: { exitCodes: [{ code: 3, exitOptions: { jobAction: 'disable' } }], default: { jobAction: 'none' } },
      dependsOn: { taskIds: ['t1'], taskIdRanges: [{ start: 1, end: 10 }] },
    });
    assert.equal(res._response.status, 201);
    const task = await client.task.get('job', 'full');
    assert.equal(task.url, `${kiln.batchUrl}/jobs/job/tasks/full`);
    assert.equal(task.state, 'active');
    assert.equal(task.outputFiles?.[0]?.uploadOptions.uploadCondition, 'taskcompletion');
    assert.equal(task.constraints?.maxTaskRetryCount, 3);
    assert.equal(task.constraints?.retentionTime, 'P7D');
    assert.equal(task.userIdentity?.autoUser?.elevationLevel, 'admin');
    assert.deepEqual(task.dependsOn?.taskIdRanges, [{ start: 1, end: 10 }]);
    assert.equal(task.executionInfo?.retryCount, 0);
    assert.equal(task.executionInfo?.requeueCount, 0);
    assert.equal((await client.task.listSubtasks('job', 'full')).value?.length, 0);
    await assert.rejects(client.task.add('job', { id: 'FULL', commandLine: 'x' }), (e: any) => e.statusCode === 409 && e.code === 'TaskExists');
  });

  it('adds a collection with a result per task; refusals do not stop the others', async () => {
    const result = await client.task.addCollection('job', [
      { id: 'c1', commandLine: 'echo 1' },
      { id: 'c2', commandLine: 'echo 2' },
      { id: 'c1', commandLine: 'again' },
      { id: 'full', commandLine: 'exists' },
      { id: 'bad id!', commandLine: 'x' },
    ]);
    const byId = (id: string) => result.value!.filter((r) => r.taskId === id);
    assert.equal(byId('c2')[0]!.status, 'success');
    assert.equal(byId('c2')[0]!.location, `${kiln.batchUrl}/jobs/job/tasks/c2`);
    assert.match(byId('c2')[0]!.eTag!, /^0x/);
    assert.deepEqual(
      byId('c1').map((r) => r.status),
      ['success', 'clienterror'],
    );
    assert.equal(byId('c1')[1]!.error?.code, 'TaskExists');
    assert.equal(byId('full')[0]!.error?.code, 'TaskExists');
    assert.equal(byId('bad id!')[0]!.status, 'clienterror');
    assert.equal(byId('bad id!')[0]!.error?.code, 'InvalidPropertyValue');
    assert.equal((await client.task.get('job', 'c1')).commandLine, 'echo 1');
  });

  it('keeps tasks active without nodes; terminate completes them with TaskEnded', async () => {
    let counts = await client.job.getTaskCounts('job');
    assert.deepEqual({ ...counts.taskCounts }, { active: 3, running: 0, completed: 0, succeeded: 0, failed: 0 });
    const res = await client.task.terminate('job', 'c1');
    assert.equal(res._response.status, 204);
    const task = await client.task.get('job', 'c1');
    assert.equal(task.state, 'completed');
    assert.equal(task.previousState, 'active');
    assert.equal(task.executionInfo?.result, 'failure');
    assert.deepEqual({ ...task.executionInfo?.failureInfo }, { category: 'usererror', code: 'TaskEnded', message: 'Task Was Ended by User Request' });
    assert.ok(task.executionInfo?.endTime instanceof Date);
    assert.equal(task.executionInfo?.exitCode, undefined);
    counts = await client.job.getTaskCounts('job');
    assert.deepEqual({ ...counts.taskCounts }, { active: 2, running: 0, completed: 1, succeeded: 0, failed: 1 });
    // Ending a task is no failure of the job's: onTaskFailure does not act on it.
    assert.equal((await client.job.get('job')).state, 'active');
    await assert.rejects(client.task.terminate('job', 'c1'), (e: any) => e.statusCode === 409 && e.code === 'TaskCompleted');
  });

  it('reactivates a failed task and refuses to reactivate an active one', async () => {
    await assert.rejects(client.task.reactivate('job', 'c2'), (e: any) => e.statusCode === 409 && e.code === 'TaskNotCompleted');
    const res = await client.task.reactivate('job', 'c1');
    assert.equal(res._response.status, 204);
    const task = await client.task.get('job', 'c1');
    assert.equal(task.state, 'active');
    assert.equal(task.executionInfo?.result, undefined);
    assert.equal(task.executionInfo?.retryCount, 0);
  });

  it('updates constraints and deletes a task (200)', async () => {
    await client.task.update('job', 'c2', { constraints: { maxTaskRetryCount: 5, retentionTime: 'P1D' } });
    const task = await client.task.get('job', 'c2');
    assert.equal(task.constraints?.maxTaskRetryCount, 5);
    assert.equal(task.constraints?.retentionTime, 'P1D');
    const res = await client.task.deleteMethod('job', 'c2');
    assert.equal(res._response.status, 200);
    await assert.rejects(client.task.get('job', 'c2'), (e: any) => e.statusCode === 404 && e.code === 'TaskNotFound');
  });

  it('pages through 2,500 tasks with listNext', async () => {
    await client.job.add({ id: 'big', poolInfo: { poolId: 'pool' } });
    const ids = Array.from({ length: 2500 }, (_, i) => `task-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < ids.length; i += 100) {
      const result = await client.task.addCollection(
        'big',
        ids.slice(i, i + 100).map((id) => ({ id, commandLine: `echo ${id}` })),
      );
      assert.ok(result.value!.every((r) => r.status === 'success'));
    }
    const { tasks, pages } = await listAll(client, 'big');
    assert.equal(pages, 3);
    assert.deepEqual(
      tasks.map((t) => t.id),
      ids,
    );
    const small = await listAll(client, 'big', { maxResults: 700, filter: "startswith(id,'task-01')" });
    assert.equal(small.tasks.length, 1000);
    assert.equal(small.pages, 2);
    assert.ok(small.tasks.every((t) => t.id!.startsWith('task-01')));
  });

  it('filters tasks by state, id, result and time; selects properties', async () => {
    await client.task.terminate('big', 'task-00007');
    await client.task.terminate('big', 'task-02000');
    const completed = await listAll(client, 'big', { filter: "state eq 'completed'" });
    assert.deepEqual(
      completed.tasks.map((t) => t.id),
      ['task-00007', 'task-02000'],
    );
    const notActive = await listAll(client, 'big', { filter: "state ne 'active' and id gt 'task-01000'" });
    assert.deepEqual(
      notActive.tasks.map((t) => t.id),
      ['task-02000'],
    );
    const either = await listAll(client, 'big', { filter: "id eq 'TASK-00001' or executionInfo/result eq 'failure'" });
    assert.deepEqual(
      either.tasks.map((t) => t.id),
      ['task-00001', 'task-00007', 'task-02000'],
    );
    const ended = await listAll(client, 'big', { filter: "executionInfo/failureInfo/code eq 'TaskEnded'" });
    assert.equal(ended.tasks.length, 2);
    const future = new Date(Date.now() + 3600_000).toISOString();
    assert.equal((await listAll(client, 'big', { filter: `creationTime gt datetime'${future}'` })).tasks.length, 0);
    assert.equal((await listAll(client, 'big', { filter: `creationTime lt '${future}'` })).tasks.length, 2500);
    const selected = await client.task.list('big', { taskListOptions: { select: 'id,state', maxResults: 2 } });
    assert.deepEqual(
      selected.map((t) => Object.keys(t).sort()),
      [
        ['id', 'state'],
        ['id', 'state'],
      ],
    );
  });

  it('refuses dependencies on a job without usesTaskDependencies, and jobAction with onTaskFailure noaction', async () => {
    await assert.rejects(
      client.task.add('big', { id: 'dep', commandLine: 'x', dependsOn: { taskIds: ['task-00001'] } }),
      (e: any) => e.statusCode === 400 && e.code === 'TaskDependenciesNotSpecifiedOnJob',
    );
    await assert.rejects(
      client.task.add('big', { id: 'exit', commandLine: 'x', exitConditions: { default: { jobAction: 'terminate' } } }),
      (e: any) => e.statusCode === 400 && e.code === 'InvalidPropertyValue',
    );
  });

  it('answers a bad $filter with InvalidQueryParameterValue', async () => {
    const res = await batchRequest(kiln.batchUrl, 'GET', '/jobs/big/tasks', { query: `$filter=${encodeURIComponent("state eq 'active' and")}` });
    assert.equal(res.status, 400);
    const err = batchErrorOf(res);
    assert.equal(err.code, 'InvalidQueryParameterValue');
    assert.equal(err.values?.[0]?.value, '$filter');
    const unknown = await batchRequest(kiln.batchUrl, 'GET', '/jobs/big/tasks', { query: `$filter=${encodeURIComponent("color eq 'red'")}` });
    assert.equal(unknown.status, 400);
  });

  it('gives an absolute nextLink that carries every parameter', async () => {
    const res = await batchRequest(kiln.batchUrl, 'GET', '/jobs/big/tasks', { query: `maxresults=10&$filter=${encodeURIComponent("state eq 'active'")}` });
    const link = new URL(res.json()['odata.nextLink']);
    assert.equal(link.origin, kiln.batchUrl);
    assert.equal(link.searchParams.get('api-version'), '2022-10-01.16.0');
    assert.equal(link.searchParams.get('$filter'), "state eq 'active'");
    assert.equal(link.searchParams.get('maxresults'), '10');
    assert.match(link.searchParams.get('$skiptoken') ?? '', /^[A-Za-z0-9_-]+$/);
  });
  it('says why an active task waits, in a property the SDKs ignore', async () => {
    await client.job.add({ id: 'waiting', poolInfo: { poolId: 'pool' }, usesTaskDependencies: true });
    await client.task.add('waiting', { id: 'first', commandLine: '/bin/true' });
    await client.task.add('waiting', { id: 'second', commandLine: '/bin/true', dependsOn: { taskIds: ['first'] } });
    const one = (await batchRequest(kiln.batchUrl, 'GET', '/jobs/waiting/tasks/first')).json();
    assert.match(one.kilnWaitingReason, /^NoNodes: pool pool has no compute nodes/);
    const list = (await batchRequest(kiln.batchUrl, 'GET', '/jobs/waiting/tasks')).json();
    assert.deepEqual(
      list.value.map((t: { id: string; kilnWaitingReason: string }) => [t.id, t.kilnWaitingReason.split(':')[0]]),
      [
        ['first', 'NoNodes'],
        ['second', 'WaitingForDependencies'],
      ],
    );
    await client.job.disable('waiting', 'requeue');
    const disabled = (await batchRequest(kiln.batchUrl, 'GET', '/jobs/waiting/tasks/first')).json();
    assert.match(disabled.kilnWaitingReason, /^JobDisabled/);
    await client.task.terminate('waiting', 'first');
    const done = (await batchRequest(kiln.batchUrl, 'GET', '/jobs/waiting/tasks/first')).json();
    assert.equal(done.kilnWaitingReason, undefined, 'only waiting tasks carry a reason');
  });
});
