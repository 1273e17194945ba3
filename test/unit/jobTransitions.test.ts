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
  const job = (id: string) => b.job(id).doc;
  const newJob = (id: string, spec: Json = {}) => addJob(b.ctx(), { id, poolInfo: { poolId: 'p' }, ...(spec as object) });
  const add = (jobId: string, id: string, extra: Json = {}) => addTask(b.ctx(), jobId, { id, commandLine: 'true', ...(extra as object) });
  const run = (jobId: string, taskId: string) =>
    b.store.tx(() => {
      const { pk, doc } = b.job(jobId);
      assignTask(b.ctx(), pk, doc, b.task(jobId, taskId), ON_NODE);
    });
  /** The node agent reports the task's end: it completes, then the job finishes ending if it was. */
  const end = (jobId: string, taskId: string, outcome: TaskOutcome) =>
    b.store.tx(() => {
      const { pk, doc } = b.job(jobId);
      completeTask(b.ctx(), pk, doc, b.task(jobId, taskId), outcome);
      finishJobTermination(b.ctx(), pk, doc);
      finishJobDisable(b.ctx(), pk, doc);
    });

  it('terminate: completed at once with nothing on a node, with its reason and end time', () => {
    b.at(0);
    newJob('quick');
    add('quick', 'waiting');
    b.at(MIN);
    terminateJob(b.ctx(), 'quick', { terminateReason: 'Because' });
    const j = job('quick');
    assert.deepEqual([j.state, j.previousState, j.executionInfo.terminateReason, j.executionInfo.endTime], ['completed', 'terminating', 'Because', iso(MIN)]);
    assert.equal(b.task('quick', 'waiting').state, 'active', 'Azure leaves active tasks so');
    assert.throws(() => terminateJob(b.ctx(), 'quick', {}), refusal(409, 'JobCompleted'));
    assert.throws(() => terminateJob(b.ctx(), 'nope', {}), refusal(404, 'JobNotFound'));
  });

  it('terminate with a running task: terminating until it is off its node; the hooks hear of it', async () => {
    newJob('slow');
    add('slow', 'r');
    run('slow', 'r');
    const before = b.hooks.length;
    terminateJob(b.ctx(), 'slow', {});
    assert.equal(job('slow').state, 'terminating');
    assert.equal(job('slow').executionInfo.terminateReason, 'UserTerminate');
    assert.throws(() => terminateJob(b.ctx(), 'slow', {}), refusal(409, 'JobBeingTerminated'));
    end('slow', 'r', { exitCode: 0 });
    assert.equal(job('slow').state, 'completed');
    await settle();
    assert.deepEqual(b.hooks.slice(before), [
      ['jobEnded', 'slow'],
      ['jobFinished', 'slow'],
    ]);
  });

  it('disable: disabled at once with nothing on a node, else disabling with its option; enable makes it active', () => {
    newJob('dis');
    disableJob(b.ctx(), 'dis', { disableTasks: 'requeue' });
    assert.equal(job('dis').state, 'disabled');
    const enabled = enableJob(b.ctx(), 'dis');
    assert.deepEqual([enabled.state, enabled.previousState], ['active', 'disabled']);

    newJob('wait');
    add('wait', 'r');
    run('wait', 'r');
    disableJob(b.ctx(), 'wait', { disableTasks: 'wait' });
    assert.equal(job('wait').state, 'disabling');
    assert.equal(job('wait')['pendingDisableTasks'], 'wait');
    assert.throws(() => enableJob(b.ctx(), 'wait'), refusal(409, 'OperationInvalidForCurrentState'));
    end('wait', 'r', { exitCode: 0 });
    assert.equal(job('wait').state, 'disabled');
    assert.equal(job('wait')['pendingDisableTasks'], undefined);
    assert.throws(() => disableJob(b.ctx(), 'wait', {}), refusal(400, 'MissingRequiredProperty'));
    assert.throws(() => disableJob(b.ctx(), 'quick', { disableTasks: 'requeue' }), refusal(409, 'JobCompleted'));
  });

  it('onAllTasksComplete terminatejob: a job without tasks completes at once; one with tasks when the last completes', () => {
    newJob('empty', { onAllTasksComplete: 'terminatejob' });
    assert.deepEqual([job('empty').state, job('empty').executionInfo.terminateReason], ['completed', 'AllTasksComplete']);

    // Tasks first, then the setting (as clients do): a patch to terminatejob with tasks left does not end the job.
    newJob('two');
    add('two', 'a');
    add('two', 'b');
    patchJob(b.ctx(), 'two', { onAllTasksComplete: 'terminatejob' });
    assert.equal(job('two').state, 'active');
    run('two', 'a');
    end('two', 'a', { exitCode: 0 });
    assert.equal(job('two').state, 'active', 'b is still to run');
    run('two', 'b');
    end('two', 'b', { exitCode: 1 });
    assert.deepEqual([job('two').state, job('two').executionInfo.terminateReason], ['completed', 'AllTasksComplete']);

    newJob('stays');
    add('stays', 'a');
    run('stays', 'a');
    end('stays', 'a', { exitCode: 0 });
    assert.equal(job('stays').state, 'active', 'noaction');
  });

  it("onTaskFailure performexitoptionsjobaction: the failed task's jobAction terminates or disables the job", () => {
    const acts = (id: string) => newJob(id, { onTaskFailure: 'performexitoptionsjobaction' });
    acts('fails');
    add('fails', 'a');
    run('fails', 'a');
    end('fails', 'a', { exitCode: 2 });
    assert.deepEqual([job('fails').state, job('fails').executionInfo.terminateReason], ['completed', 'TaskFailed']);

    acts('disables');
    add('disables', 'a', { exitConditions: { exitCodes: [{ code: 4, exitOptions: { jobAction: 'disable' } }] } });
    run('disables', 'a');
    end('disables', 'a', { exitCode: 4 });
    assert.equal(job('disables').state, 'disabled');

    acts('tolerates');
    add('tolerates', 'a', { exitConditions: { exitCodeRanges: [{ start: 1, end: 9, exitOptions: { jobAction: 'none' } }] } });
    run('tolerates', 'a');
    end('tolerates', 'a', { exitCode: 5 });
    assert.equal(job('tolerates').state, 'active');

    acts('succeeds');
    add('succeeds', 'a');
    run('succeeds', 'a');
    end('succeeds', 'a', { exitCode: 0 });
    assert.equal(job('succeeds').state, 'active', 'a success is no failure to act on');

    acts('ended');
    add('ended', 'a');
    terminateTask(b.ctx(), 'ended', 'a');
    assert.equal(job('ended').state, 'active', 'a task ended by its user is not a failure of the task');

    newJob('ignores');
    add('ignores', 'a');
    run('ignores', 'a');
    end('ignores', 'a', { exitCode: 2 });
    assert.equal(job('ignores').state, 'active', 'onTaskFailure noaction');
  });

  it('a job manager task that completes ends its job (killJobOnCompletion), unless told not to', () => {
    newJob('jm', { jobManagerTask: { id: 'boss', commandLine: 'true' } });
    add('jm', 'worker');
    run('jm', 'boss');
    end('jm', 'boss', { exitCode: 0 });
    assert.deepEqual([job('jm').state, job('jm').executionInfo.terminateReason], ['completed', 'JMComplete']);

    newJob('jmkeeps', { jobManagerTask: { id: 'boss', commandLine: 'true', killJobOnCompletion: false } });
    run('jmkeeps', 'boss');
    end('jmkeeps', 'boss', { exitCode: 0 });
    assert.equal(job('jmkeeps').state, 'active');
  });

  it('maxWallClockTime: the job ends once that long has passed since its creation', () => {
    b.at(0);
    newJob('limited', { constraints: { maxWallClockTime: 'PT10M' } });
    b.at(10 * MIN - 1);
    assert.equal(expireJobs(b.ctx()), 0);
    b.at(10 * MIN);
    assert.equal(expireJobs(b.ctx()), 1);
    assert.deepEqual([job('limited').state, job('limited').executionInfo.terminateReason], ['completed', 'MaxWallClockTimeExpiry']);
    assert.equal(expireJobs(b.ctx()), 0, 'once');
  });

  it('an auto pool is made with its job and deleted with it, unless kept alive', () => {
    const auto = (id: string, keepAlive: boolean) =>
      newJob(id, {
        poolInfo: {
          autoPoolSpecification: {
            autoPoolIdPrefix: id,
            poolLifetimeOption: 'job',
            keepAlive,
            pool: { vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM, targetDedicatedNodes: 0 },
          },
        },
      });
    auto('ap', false);
    const poolId = job('ap').executionInfo.poolId!;
    assert.match(poolId, /^ap_[0-9a-f-]{36}$/);
    assert.equal(b.pool(poolId).doc['autoPoolForJob'], 'ap');
    terminateJob(b.ctx(), 'ap', {});
    assert.equal(b.store.pools.get('unit', poolId), undefined, 'a pool without nodes goes at once');
    auto('kept', true);
    const kept = job('kept').executionInfo.poolId!;
    terminateJob(b.ctx(), 'kept', {});
    assert.equal(b.pool(kept).doc.state, 'active');
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
