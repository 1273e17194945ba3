import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { startKiln, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { addPool, nodeRoot, sharedTempDir, stopKiln, uid, waitForTask, waitingReason } from './helpers.js';

describe("issue 9 leftovers on nodes: job preparation retries, a schedule's folder on the node", () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let dir: string;
  const poolId = uid('pool-left');
  let nodeId: string;

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
    dir = sharedTempDir('kiln-leftovers-');
    nodeId = (await addPool(client, poolId, 1))[0]!.id!;
  });

  after(() => stopKiln(kiln, dir));

  const tries = (name: string): number => (fs.existsSync(path.join(dir, name)) ? fs.readFileSync(path.join(dir, name), 'utf8').split('\n').filter(Boolean).length : 0);
  const prepStatus = async (jobId: string) => (await client.job.listPreparationAndReleaseTaskStatus(jobId)).find((s) => s.nodeId === nodeId)?.jobPreparationTaskExecutionInfo;

  it('retries a failed job preparation task on the node up to its maxTaskRetryCount before the node counts as failed', async () => {
    // Fails twice, then succeeds: two retries are allowed, so the node runs the job's task.
    const flaky = uid('flaky');
    const jobId = uid('job');
    await client.job.add({
      id: jobId,
      poolInfo: { poolId },
      jobPreparationTask: { commandLine: `/bin/sh -c 'echo try >> ${dir}/${flaky}; [ $(wc -l < ${dir}/${flaky}) -ge 3 ]'`, constraints: { maxTaskRetryCount: 2 } },
    });
    await client.task.add(jobId, { id: 'after-prep', commandLine: '/bin/true' });
    const task = await waitForTask(client, jobId, 'after-prep', 'completed', 30_000);
    assert.equal(task.executionInfo?.result, 'success');
    assert.equal(tries(flaky), 3, 'one try and two retries');
    const ok = await prepStatus(jobId);
    assert.equal(ok?.state, 'completed');
    assert.equal(ok?.result, 'success');
    assert.equal(ok?.retryCount, 2);
    assert.equal(ok?.exitCode, 0);
    assert.equal(ok?.failureInfo, undefined, "an earlier try's failure is not the last try's");
    assert.ok(ok?.lastRetryTime instanceof Date, 'lastRetryTime is set once retried');

    // Always fails, one retry: two tries, then the node is ineligible for the job.
    const failing = uid('failing');
    const failedJob = uid('job');
    await client.job.add({
      id: failedJob,
      poolInfo: { poolId },
      jobPreparationTask: { commandLine: `/bin/sh -c 'echo try >> ${dir}/${failing}; exit 3'`, constraints: { maxTaskRetryCount: 1 } },
    });
    await client.task.add(failedJob, { id: 'never', commandLine: '/bin/true' });
    const failed = await waitFor(
      'the preparation to fail for good',
      async () => {
        const s = await prepStatus(failedJob);
        return s?.state === 'completed' ? s : undefined;
      },
      30_000,
    );
    assert.equal(failed.result, 'failure');
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.retryCount, 1);
    assert.equal(tries(failing), 2, 'one try and one retry');
    assert.match((await waitingReason(kiln, failedJob, 'never')) ?? '', /^JobPreparationTaskFailed/);
    assert.equal((await client.task.get(failedJob, 'never')).state, 'active');
    await Promise.all([client.job.deleteMethod(jobId), client.job.deleteMethod(failedJob)]);
  });

  it("removes a deleted schedule job's own directory, and the schedule's folder with its last job's", async () => {
    const scheduleId = uid('sched');
    const scheduleDir = path.join(nodeRoot(kiln, poolId, nodeId), 'workitems', scheduleId);
    const runTask = async (jobId: string) => {
      await client.task.add(jobId, { id: 't', commandLine: '/bin/true' });
      await waitForTask(client, jobId, 't');
    };
    await client.jobSchedule.add({ id: scheduleId, schedule: { recurrenceInterval: 'PT1H' }, jobSpecification: { poolInfo: { poolId } } });
    await runTask(`${scheduleId}:job-1`);
    // A new schedule starts over: its run is due at once, and made when job-1 ends.
    await client.jobSchedule.patch(scheduleId, { schedule: { recurrenceInterval: 'PT2H' } });
    await client.job.terminate(`${scheduleId}:job-1`);
    await waitFor('the second job', async () => ((await client.job.listFromJobSchedule(scheduleId)).length === 2 ? true : undefined));
    await runTask(`${scheduleId}:job-2`);
    assert.deepEqual(fs.readdirSync(scheduleDir).sort(), ['job-1', 'job-2']);

    // Deleting job-1 takes its directory only, not the schedule's other job's.
    await client.job.deleteMethod(`${scheduleId}:job-1`);
    await waitFor("job-1's directory to go", () => (fs.existsSync(path.join(scheduleDir, 'job-1')) ? undefined : true), 20_000);
    assert.ok(fs.existsSync(path.join(scheduleDir, 'job-2', 't', 'stdout.txt')), "job-2's files stay");

    // Deleting the schedule deletes job-2, and the then empty schedule folder goes with it.
    await client.jobSchedule.deleteMethod(scheduleId);
    await waitFor('the schedule folder to go', () => (fs.existsSync(scheduleDir) ? undefined : true), 20_000);
    await waitFor('the schedule to be gone', async () => ((await client.jobSchedule.exists(scheduleId)).body ? undefined : true), 20_000);
  });
});
