import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RestError } from '@azure/storage-blob';
import { ACCOUNT, KEY, startKiln, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { assertOutputs, assertSteps, processesUnder, runTutorialCli } from './helpers.js';

/** The status of a call that must fail (404 once a job or pool is gone). */
async function statusOf(call: Promise<unknown>): Promise<number | undefined> {
  try {
    await call;
    return undefined;
  } catch (err) {
    return (err as RestError).statusCode;
  }
}

describe('kiln tutorial against a running kiln up', () => {
  let kiln: KilnProcess;
  const outputDir = tempDir('kiln-tutorial-out-');

  before(async () => {
    kiln = await startKiln();
  });

  after(async () => {
    await kiln.stop();
    assert.deepEqual(processesUnder(kiln.nodesDir), [], 'kiln stops every agent and task it started');
    for (const dir of [kiln.dataDir, kiln.nodesDir, outputDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the tutorial (Python tasks) on it through its endpoints, then its containers, job and pool are gone', async () => {
    const run = await runTutorialCli([
      '--batch-url',
      kiln.batchUrl,
      '--blob-url',
      kiln.blobUrl,
      '--account-name',
      ACCOUNT,
      '--account-key',
      KEY,
      '--task-language',
      'python',
      '--output-dir',
      outputDir,
    ]);
    assert.equal(run.code, 0, run.output);
    assert.ok(run.output.includes(`Using the Kiln at Batch ${kiln.batchUrl}, Blob ${kiln.blobUrl}`), run.output);
    assert.ok(!run.output.includes('embedded Kiln'), run.output);

    // Without --yes and without a terminal, the questions take their default: yes.
    assertSteps(run.output, outputDir, 'python_tutorial_task.py');
    assert.match(run.output, /^Delete pool\? \[Y\/n\] y \(stdin is not a terminal: the default\)$/m);
    assertOutputs(outputDir, run.output);

    // What the service says afterwards, through the official SDKs.
    const names: string[] = [];
    for await (const container of kiln.blobService().listContainers()) names.push(container.name);
    for (const name of ['application', 'input', 'output']) assert.ok(!names.includes(name), `container ${name} is deleted (${names.join(', ')})`);
    const batch = kiln.batchClient();
    // Deleting a job or pool is asynchronous in Batch: both answer 404 once they are gone.
    await waitFor('the job to be gone', async () => ((await statusOf(batch.job.get('PythonTutorialJob'))) === 404 ? true : undefined));
    await waitFor('the pool to be gone', async () => ((await statusOf(batch.pool.get('PythonTutorialPool'))) === 404 ? true : undefined));
    assert.equal((await batch.pool.list()).length, 0);
    const poolDir = path.join(kiln.nodesDir, ACCOUNT, 'pythontutorialpool');
    await waitFor("the pool's agents and tasks to stop", () => (processesUnder(poolDir).length === 0 ? true : undefined));
    await waitFor("the pool's node directories to go", () => (!fs.existsSync(poolDir) || fs.readdirSync(poolDir).length === 0 ? true : undefined));
  });
});
