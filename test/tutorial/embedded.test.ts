import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { tempDir } from '../helpers/kiln.js';
import { assertOutputs, assertSteps, processesUnder, runTutorialCli } from './helpers.js';

describe('kiln tutorial (embedded Kiln)', () => {
  const outputDir = tempDir('kiln-tutorial-out-');
  after(() => fs.rmSync(outputDir, { recursive: true, force: true }));

  it('runs the whole tutorial on a Kiln of its own, non-interactively, and leaves nothing behind', async () => {
    const run = await runTutorialCli(['--yes', '--output-dir', outputDir]);
    assert.equal(run.code, 0, run.output);

    assertSteps(run.output, outputDir, 'tutorial_task.mjs');
    assertOutputs(outputDir, run.output);
    assert.match(run.output, /^Delete job\? \[Y\/n\] y \(--yes\)$/m);

    // The embedded Kiln: where it ran, and that it is gone with everything it started.
    const dirs = /^ {2}data in (\S+), nodes in (\S+) \(both removed at the end\)$/m.exec(run.output);
    assert.ok(dirs, run.output);
    const [, dataDir, nodesDir] = dirs;
    assert.match(run.output, /^Stopped the embedded Kiln and removed its temporary directories\.$/m);
    assert.ok(!fs.existsSync(dataDir!), `${dataDir} is removed`);
    assert.ok(!fs.existsSync(nodesDir!), `${nodesDir} is removed`);
    assert.deepEqual(processesUnder(nodesDir!), [], 'no agent or task process outlives the tutorial');
  });
});
