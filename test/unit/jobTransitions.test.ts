import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { addJob } from '../../src/domain/batch/jobs/addJob.js';
import { disableJob, enableJob, finishJobDisable } from '../../src/domain/batch/jobs/disableJob.js';
import { expireJobs } from '../../src/domain/batch/jobs/jobWallClock.js';
import { patchJob } from '../../src/domain/batch/jobs/updateJob.js';
import { exitOptionsFor } from '../../src/domain/batch/jobs/onTaskFailure.js';
import { finishJobTermination, terminateJob } from '../../src/domain/batch/jobs/terminateJob.js';
import type { CloudTask } from '../../src/domain/batch/models.js';
import type { Json } from '../../src/domain/batch/schema/validate.js';
import { addTask } from '../../src/domain/batch/tasks/addTasks.js';
import { completeTask, type TaskOutcome } from '../../src/domain/batch/tasks/completeTask.js';
import { assignTask } from '../../src/domain/batch/tasks/dispatch.js';
import { terminateTask } from '../../src/domain/batch/tasks/terminateTask.js';
import { iso, MIN, refusal, settle, unitBatch, VM } from './helpers.js';

const ON_NODE = { nodeId: 'tvm-1', poolId: 'p', affinityId: 'x', nodeUrl: 'x', taskRootDirectory: 'x', taskRootDirectoryUrl: 'x' };

describe('job transitions', () => {
  const b = unitBatch();
  after(() => b.close());
  const job = async (id: string) => (await b.job(id)).doc;
  const newJob = async (id: string, spec: Json = {}) => await addJob(b.ctx(), { id, poolInfo: { poolId: 'p' }, ...(spec as object) });
  const add = async (jobId: string, id: string, extra: Json = {}) => await addTask(b.ctx(), jobId, { id, commandLine: 'true', ...(extra as object) });
  const run = async (jobId: string, taskId: string) =>
    await b.store.tx(async () => {
      const { pk, doc } = await b.job(jobId);
      await assignTask(b.ctx(), pk, doc, await b.task(jobId, taskId), ON_NODE);
    });
  /** The node agent reports the task's end: it completes, then the job finishes ending if it was. */
  const end = async (jobId: string, taskId: string, outcome: TaskOutcome) =>
    await b.store.tx(async () => {
      const { pk, doc } = await b.job(jobId);
      await completeTask(b.ctx(), pk, doc, await b.task(jobId, taskId), outcome);
      await finishJobTermination(b.ctx(), pk, doc);
      await finishJobDisable(b.ctx(), pk, doc);
    });

  it('terminate: completed at once with nothing on a node, with its reason and end time', async () => {
    b.at(0);
    await newJob('quick');
    await add('quick', 'waiting');
    b.at(MIN);
    await terminateJob(b.ctx(), 'quick', { terminateReason: 'Because' });
    const j = await job('quick');
    assert.deepEqual([j.state, j.previousState, j.executionInfo.terminateReason, j.executionInfo.endTime], ['completed', 'terminating', 'Because', iso(MIN)]);
    assert.equal((await b.task('quick', 'waiting')).state, 'active', 'Azure leaves active tasks so');
    await assert.rejects(async () => await terminateJob(b.ctx(), 'quick', {}), refusal(409, 'JobCompleted'));
    await assert.rejects(async () => await terminateJob(b.ctx(), 'nope', {}), refusal(404, 'JobNotFound'));
  });

  it('terminate with a running task: terminating until it is off its node; the hooks hear of it', async () => {
    await newJob('slow');
    await add('slow', 'r');
    await run('slow', 'r');
    const before = b.hooks.length;
    await terminateJob(b.ctx(), 'slow', {});
    assert.equal((await job('slow')).state, 'terminating');
    assert.equal((await job('slow')).executionInfo.terminateReason, 'UserTerminate');
    await assert.rejects(async () => await terminateJob(b.ctx(), 'slow', {}), refusal(409, 'JobBeingTerminated'));
    await end('slow', 'r', { exitCode: 0 });
    assert.equal((await job('slow')).state, 'completed');
    await settle();
    assert.deepEqual(b.hooks.slice(before), [
      ['jobEnded', 'slow'],
      ['jobFinished', 'slow'],
    ]);
  });

  it('disable: disabled at once with nothing on a node, else disabling with its option; enable makes it active', async () => {
    await newJob('dis');
    await disableJob(b.ctx(), 'dis', { disableTasks: 'requeue' });
    assert.equal((await job('dis')).state, 'disabled');
    const enabled = await enableJob(b.ctx(), 'dis');
    assert.deepEqual([enabled.state, enabled.previousState], ['active', 'disabled']);

    await newJob('wait');
    await add('wait', 'r');
    await run('wait', 'r');
    await disableJob(b.ctx(), 'wait', { disableTasks: 'wait' });
    assert.equal((await job('wait')).state, 'disabling');
    assert.equal((await job('wait'))['pendingDisableTasks'], 'wait');
    await assert.rejects(async () => await enableJob(b.ctx(), 'wait'), refusal(409, 'OperationInvalidForCurrentState'));
    await end('wait', 'r', { exitCode: 0 });
    assert.equal((await job('wait')).state, 'disabled');
    assert.equal((await job('wait'))['pendingDisableTasks'], undefined);
    await assert.rejects(async () => await disableJob(b.ctx(), 'wait', {}), refusal(400, 'MissingRequiredProperty'));
    await assert.rejects(async () => await disableJob(b.ctx(), 'quick', { disableTasks: 'requeue' }), refusal(409, 'JobCompleted'));
  });

  it('onAllTasksComplete terminatejob: a job without tasks completes at once; one with tasks when the last completes', async () => {
    await newJob('empty', { onAllTasksComplete: 'terminatejob' });
    assert.deepEqual([(await job('empty')).state, (await job('empty')).executionInfo.terminateReason], ['completed', 'AllTasksComplete']);

    // Tasks first, then the setting (as clients do): a patch to terminatejob with tasks left does not end the job.
    await newJob('two');
    await add('two', 'a');
    await add('two', 'b');
    await patchJob(b.ctx(), 'two', { onAllTasksComplete: 'terminatejob' });
    assert.equal((await job('two')).state, 'active');
    await run('two', 'a');
    await end('two', 'a', { exitCode: 0 });
    assert.equal((await job('two')).state, 'active', 'b is still to run');
    await run('two', 'b');
    await end('two', 'b', { exitCode: 1 });
    assert.deepEqual([(await job('two')).state, (await job('two')).executionInfo.terminateReason], ['completed', 'AllTasksComplete']);

    await newJob('stays');
    await add('stays', 'a');
    await run('stays', 'a');
    await end('stays', 'a', { exitCode: 0 });
    assert.equal((await job('stays')).state, 'active', 'noaction');
  });

  it("onTaskFailure performexitoptionsjobaction: the failed task's jobAction terminates or disables the job", async () => {
    const acts = async (id: string) => await newJob(id, { onTaskFailure: 'performexitoptionsjobaction' });
    await acts('fails');
    await add('fails', 'a');
    await run('fails', 'a');
    await end('fails', 'a', { exitCode: 2 });
    assert.deepEqual([(await job('fails')).state, (await job('fails')).executionInfo.terminateReason], ['completed', 'TaskFailed']);

    await acts('disables');
    await add('disables', 'a', { exitConditions: { exitCodes: [{ code: 4, exitOptions: { jobAction: 'disable' } }] } });
    await run('disables', 'a');
    await end('disables', 'a', { exitCode: 4 });
    assert.equal((await job('disables')).state, 'disabled');

    await acts('tolerates');
    await add('tolerates', 'a', { exitConditions: { exitCodeRanges: [{ start: 1, end: 9, exitOptions: { jobAction: 'none' } }] } });
    await run('tolerates', 'a');
    await end('tolerates', 'a', { exitCode: 5 });
    assert.equal((await job('tolerates')).state, 'active');

    await acts('succeeds');
    await add('succeeds', 'a');
    await run('succeeds', 'a');
    await end('succeeds', 'a', { exitCode: 0 });
    assert.equal((await job('succeeds')).state, 'active', 'a success is no failure to act on');

    await acts('ended');
    await add('ended', 'a');
    await terminateTask(b.ctx(), 'ended', 'a');
    assert.equal((await job('ended')).state, 'active', 'a task ended by its user is not a failure of the task');

    await newJob('ignores');
    await add('ignores', 'a');
    await run('ignores', 'a');
    await end('ignores', 'a', { exitCode: 2 });
    assert.equal((await job('ignores')).state, 'active', 'onTaskFailure noaction');
  });

  it('a job manager task that completes ends its job (killJobOnCompletion), unless told not to', async () => {
    await newJob('jm', { jobManagerTask: { id: 'boss', commandLine: 'true' } });
    await add('jm', 'worker');
    await run('jm', 'boss');
    await end('jm', 'boss', { exitCode: 0 });
    assert.deepEqual([(await job('jm')).state, (await job('jm')).executionInfo.terminateReason], ['completed', 'JMComplete']);

    await newJob('jmkeeps', { jobManagerTask: { id: 'boss', commandLine: 'true', killJobOnCompletion: false } });
    await run('jmkeeps', 'boss');
    await end('jmkeeps', 'boss', { exitCode: 0 });
    assert.equal((await job('jmkeeps')).state, 'active');
  });

  it('maxWallClockTime: the job ends once that long has passed since its creation', async () => {
    b.at(0);
    await newJob('limited', { constraints: { maxWallClockTime: 'PT10M' } });
    b.at(10 * MIN - 1);
    assert.equal(await expireJobs(b.ctx()), 0);
    b.at(10 * MIN);
    assert.equal(await expireJobs(b.ctx()), 1);
    assert.deepEqual([(await job('limited')).state, (await job('limited')).executionInfo.terminateReason], ['completed', 'MaxWallClockTimeExpiry']);
    assert.equal(await expireJobs(b.ctx()), 0, 'once');
  });

  it('an auto pool is made with its job and deleted with it, unless kept alive', async () => {
    const auto = async (id: string, keepAlive: boolean) =>
      await newJob(id, {
        poolInfo: {
          autoPoolSpecification: {
            autoPoolIdPrefix: id,
            poolLifetimeOption: 'job',
            keepAlive,
            pool: { vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM, targetDedicatedNodes: 0 },
          },
        },
      });
    await auto('ap', false);
    const poolId = (await job('ap')).executionInfo.poolId!;
    assert.match(poolId, /^ap_[0-9a-f-]{36}$/);
    assert.equal((await b.pool(poolId)).doc['autoPoolForJob'], 'ap');
    await terminateJob(b.ctx(), 'ap', {});
    assert.equal(await b.store.pools.get('unit', poolId), undefined, 'a pool without nodes goes at once');
    await auto('kept', true);
    const kept = (await job('kept')).executionInfo.poolId!;
    await terminateJob(b.ctx(), 'kept', {});
    assert.equal((await b.pool(kept)).doc.state, 'active');
  });
});

describe('exit options (exitOptionsFor)', () => {
  const done = (executionInfo: Partial<CloudTask['executionInfo']>, exitConditions?: CloudTask['exitConditions']) =>
    ({ executionInfo: { retryCount: 0, requeueCount: 0, ...executionInfo }, exitConditions }) as CloudTask;
  const conditions = {
    exitCodes: [{ code: 3, exitOptions: { jobAction: 'disable' as const } }],
    exitCodeRanges: [{ start: 1, end: 5, exitOptions: { jobAction: 'none' as const, dependencyAction: 'satisfy' as const } }],
    preProcessingError: { dependencyAction: 'satisfy' as const },
    fileUploadError: { jobAction: 'none' as const },
    default: { dependencyAction: 'block' as const },
  };
  it('an exact exit code first, then a range, then the default', () => {
    assert.deepEqual(exitOptionsFor(done({ exitCode: 3 }, conditions)), { jobAction: 'disable' });
    assert.deepEqual(exitOptionsFor(done({ exitCode: 4 }, conditions)), { jobAction: 'none', dependencyAction: 'satisfy' });
    assert.deepEqual(exitOptionsFor(done({ exitCode: 9 }, conditions)), { jobAction: 'terminate', dependencyAction: 'block' });
  });
  it('without conditions: terminate on failure, none on success', () => {
    assert.deepEqual(exitOptionsFor(done({ exitCode: 0 })), { jobAction: 'none' });
    assert.deepEqual(exitOptionsFor(done({ exitCode: 1 })), { jobAction: 'terminate' });
  });
  it('no exit code is a pre-processing error; a FileUpload failure is a file upload error', () => {
    assert.deepEqual(exitOptionsFor(done({ failureInfo: { category: 'usererror', code: 'ResourceFileDownloadFailed' } }, conditions)), {
      jobAction: 'terminate',
      dependencyAction: 'satisfy',
    });
    assert.deepEqual(exitOptionsFor(done({ exitCode: 3, failureInfo: { category: 'usererror', code: 'FileUploadMiscError' } }, conditions)), { jobAction: 'none' });
    assert.deepEqual(exitOptionsFor(done({ failureInfo: { category: 'usererror', code: 'X' } }, { default: { jobAction: 'disable' } })), { jobAction: 'disable' });
  });
});
