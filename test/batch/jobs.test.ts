import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

const vm = { imageReference: { publisher: 'debian', offer: 'debian-12', sku: '12' }, nodeAgentSKUId: 'batch.node.debian 12' };

describe('Batch jobs through @azure/batch', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    await client.pool.add({ id: 'pool', vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 });
  });
  after(async () => {
    await kiln.stop();
  });

  it('adds a job with defaults, gets and lists it', async () => {
    const res = await client.job.add({ id: 'job-1', poolInfo: { poolId: 'pool' }, metadata: [{ name: 'k', value: 'v' }] });
    assert.equal(res._response.status, 201);
    assert.equal(res._response.headers.get('dataserviceid'), `${kiln.batchUrl}/jobs/job-1`);
    const job = await client.job.get('job-1');
    assert.equal(job.state, 'active');
    assert.equal(job.priority, 0);
    assert.equal(job.maxParallelTasks, -1);
    assert.equal(job.onAllTasksComplete, 'noaction');
    assert.equal(job.onTaskFailure, 'noaction');
    assert.equal(job.usesTaskDependencies, false);
    assert.equal(job.poolInfo?.poolId, 'pool');
    assert.equal(job.executionInfo?.poolId, 'pool');
    assert.ok(job.executionInfo?.startTime instanceof Date);
    const jobs = await client.job.list({ jobListOptions: { filter: "executionInfo/poolId eq 'pool' and state eq 'active'" } });
    assert.deepEqual(
      jobs.map((j) => j.id),
      ['job-1'],
    );
    await assert.rejects(client.job.add({ id: 'JOB-1', poolInfo: { poolId: 'pool' } }), (e: any) => e.statusCode === 409 && e.code === 'JobExists');
  });

  it('patches and updates a job', async () => {
    await client.job.patch('job-1', { priority: 100, maxParallelTasks: 4 });
    let job = await client.job.get('job-1');
    assert.equal(job.priority, 100);
    assert.equal(job.maxParallelTasks, 4);
    assert.deepEqual(job.metadata, [{ name: 'k', value: 'v' }]);
    await client.job.update('job-1', { poolInfo: { poolId: 'pool' }, priority: 5 });
    job = await client.job.get('job-1');
    assert.equal(job.priority, 5);
    assert.equal(job.maxParallelTasks, -1);
    assert.equal(job.metadata, undefined);
  });

  it('disables, enables and terminates a job', async () => {
    assert.equal((await client.job.disable('job-1', 'requeue'))._response.status, 202);
    let job = await client.job.get('job-1');
    assert.equal(job.state, 'disabled');
    assert.equal(job.previousState, 'disabling');
    assert.equal((await client.job.enable('job-1'))._response.status, 202);
    job = await client.job.get('job-1');
    assert.equal(job.state, 'active');
    assert.equal((await client.job.terminate('job-1', { jobTerminateOptions: {} }))._response.status, 202);
    job = await client.job.get('job-1');
    assert.equal(job.state, 'completed');
    assert.equal(job.executionInfo?.terminateReason, 'UserTerminate');
    assert.ok(job.executionInfo?.endTime instanceof Date);
    await assert.rejects(client.job.terminate('job-1'), (e: any) => e.statusCode === 409 && e.code === 'JobCompleted');
    await assert.rejects(client.task.add('job-1', { id: 't', commandLine: 'x' }), (e: any) => e.statusCode === 409 && e.code === 'JobCompleted');
  });

  it('terminates with the reason given', async () => {
    await client.job.add({ id: 'job-2', poolInfo: { poolId: 'pool' } });
    await client.job.terminate('job-2', { terminateReason: 'enough' });
    assert.equal((await client.job.get('job-2')).executionInfo?.terminateReason, 'enough');
  });

  it('onAllTasksComplete terminatejob: a job without tasks completes; with tasks, when they do', async () => {
    await client.job.add({ id: 'auto-done', poolInfo: { poolId: 'pool' }, onAllTasksComplete: 'terminatejob' });
    let job = await client.job.get('auto-done');
    assert.equal(job.state, 'completed');
    assert.equal(job.executionInfo?.terminateReason, 'AllTasksComplete');

    await client.job.add({ id: 'later', poolInfo: { poolId: 'pool' } });
    await client.task.addCollection('later', [
      { id: 'a', commandLine: 'x' },
      { id: 'b', commandLine: 'x' },
    ]);
    await client.job.patch('later', { onAllTasksComplete: 'terminatejob' });
    assert.equal((await client.job.get('later')).state, 'active');
    await client.task.terminate('later', 'a');
    assert.equal((await client.job.get('later')).state, 'active');
    await client.task.terminate('later', 'b');
    job = await client.job.get('later');
    assert.equal(job.state, 'completed');
    assert.equal(job.executionInfo?.terminateReason, 'AllTasksComplete');
  });

  it('reports task counts and refuses prep/release status without those tasks', async () => {
    const counts = await client.job.getTaskCounts('later');
    assert.deepEqual({ ...counts.taskCounts }, { active: 0, running: 0, completed: 2, succeeded: 0, failed: 2 });
    assert.deepEqual({ ...counts.taskSlotCounts }, { active: 0, running: 0, completed: 2, succeeded: 0, failed: 2 });
    await assert.rejects(client.job.listPreparationAndReleaseTaskStatus('later'), (e: any) => e.statusCode === 409 && e.code === 'JobPreparationTaskNotSpecified');
    await client.job.add({ id: 'prep', poolInfo: { poolId: 'pool' }, jobPreparationTask: { commandLine: 'echo prep' }, jobReleaseTask: { commandLine: 'echo release' } });
    const job = await client.job.get('prep');
    assert.equal(job.jobPreparationTask?.id, 'jobpreparation');
    assert.equal(job.jobReleaseTask?.id, 'jobrelease');
    assert.equal((await client.job.listPreparationAndReleaseTaskStatus('prep')).length, 0);
  });

  it('makes a job manager task a task of the job', async () => {
    await client.job.add({ id: 'jm', poolInfo: { poolId: 'pool' }, jobManagerTask: { id: 'manager', commandLine: 'run' } });
    const task = await client.task.get('jm', 'manager');
    assert.equal(task.state, 'active');
    assert.equal(task.commandLine, 'run');
  });

  it('creates an auto pool for a job and deletes it with the job', async () => {
    await client.job.add({
      id: 'autopool-job',
      poolInfo: {
        autoPoolSpecification: { autoPoolIdPrefix: 'auto', poolLifetimeOption: 'job', pool: { vmSize: 'standard_a1', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 } },
      },
    });
    const job = await client.job.get('autopool-job');
    const poolId = job.executionInfo?.poolId;
    assert.match(poolId ?? '', /^auto_[0-9a-f-]{36}$/);
    assert.equal((await client.pool.get(poolId!)).state, 'active');
    await client.job.deleteMethod('autopool-job');
    await assert.rejects(client.pool.get(poolId!), (e: any) => e.code === 'PoolNotFound');
  });

  it('deletes a job and its tasks', async () => {
    const res = await client.job.deleteMethod('later');
    assert.equal(res._response.status, 202);
    await assert.rejects(client.job.get('later'), (e: any) => e.statusCode === 404 && e.code === 'JobNotFound');
    await assert.rejects(client.task.list('later'), (e: any) => e.statusCode === 404 && e.code === 'JobNotFound');
    // The id is free again, and the new job starts with no tasks.
    await client.job.add({ id: 'later', poolInfo: { poolId: 'pool' } });
    assert.equal((await client.task.list('later')).length, 0);
  });

  it('validates job properties', async () => {
    const bad = await batchRequest(kiln.batchUrl, 'POST', '/jobs', { body: { id: 'j', poolInfo: { poolId: 'pool' }, priority: 5000 } });
    assert.equal(bad.status, 400);
    assert.deepEqual(batchErrorOf(bad).values?.slice(0, 2), [
      { key: 'PropertyName', value: 'priority' },
      { key: 'PropertyValue', value: '5000' },
    ]);
    const noPool = await batchRequest(kiln.batchUrl, 'POST', '/jobs', { body: { id: 'j' } });
    assert.equal(noPool.status, 400);
    assert.equal(batchErrorOf(noPool).code, 'MissingRequiredProperty');
    const enumCase = await batchRequest(kiln.batchUrl, 'POST', '/jobs', {
      body: { id: 'j-case', poolInfo: { poolId: 'pool' }, onAllTasksComplete: 'NoAction', onTaskFailure: 'PerformExitOptionsJobAction' },
    });
    assert.equal(enumCase.status, 201);
    const job = await client.job.get('j-case');
    assert.equal(job.onTaskFailure, 'performexitoptionsjobaction');
  });
});
