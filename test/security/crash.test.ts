import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crashRun } from '../helpers/crashRun.js';

// The suite's small version of bench/crash/run.ts (10,000 tasks): the same run, fewer tasks.
describe('kill -9 of the server during a task run and uploads', () => {
  it('every acknowledged task completes, none runs twice at once, no acknowledged blob is lost', async () => {
    const report = await crashRun({ tasks: 150, kills: 2, uploads: true });
    assert.equal(report.overlaps, 0, 'no run found an earlier run of its task alive');
    assert.equal(report.unfinished, 0, 'every acknowledged task completed with exit code 0');
    assert.equal(report.tasks, 150);
    assert.ok(report.counted >= report.reruns, `every rerun is counted in requeueCount or retryCount (${report.reruns} reruns, ${report.counted} counted)`);
    assert.ok(report.blobsAcknowledged > 0, 'uploads were acknowledged while the server was killed');
    assert.equal(report.blobsLost, 0, 'every acknowledged blob reads back whole');
  });
});
