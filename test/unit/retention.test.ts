import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { NodeLayout } from '../../src/agent/layout.js';
import { TaskDirRetention } from '../../src/agent/retention.js';

// The agent's schedule of task directories to remove (Azure's retentionTime), on mocked timers and
// Date: what goes, when, and what a task run again in its directory keeps.
describe('task directory retention', () => {
  let root: string;
  let layout: NodeLayout;
  const taskDir = (task: string) => path.join(root, 'workitems', 'job', 'job-1', task);
  const exists = (task: string) => fs.existsSync(taskDir(task));

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-retention-'));
    layout = new NodeLayout(root);
    for (const task of ['a', 'b', 'c', 'd']) fs.mkdirSync(path.join(taskDir(task), 'wd'), { recursive: true });
  });
  afterEach(() => {
    mock.timers.reset();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('removes each directory at its deadline, earliest first, whatever the order they finished in', () => {
    const retention = new TaskDirRetention(layout);
    retention.retain(taskDir('a'), 3_000);
    retention.retain(taskDir('b'), 1_000);
    retention.retain(taskDir('c'), 2_000);
    mock.timers.tick(999);
    assert.deepEqual([exists('a'), exists('b'), exists('c')], [true, true, true]);
    mock.timers.tick(1);
    assert.deepEqual([exists('a'), exists('b'), exists('c')], [true, false, true]);
    assert.equal(fs.existsSync(`${taskDir('b')}.retain-until`), false, 'the marker goes with the directory');
    mock.timers.tick(1_000);
    assert.deepEqual([exists('a'), exists('c')], [true, false]);
    mock.timers.tick(1_000);
    assert.equal(exists('a'), false);
    retention.stop();
  });

  it('keeps a directory whose task runs again, and honours the deadline of its last run', () => {
    const retention = new TaskDirRetention(layout);
    retention.retain(taskDir('a'), 1_000);
    retention.retain(taskDir('b'), 1_000);
    retention.cancel(taskDir('a')); // a runs again: no deadline while it runs
    mock.timers.tick(1_000);
    assert.deepEqual([exists('a'), exists('b')], [true, false]);
    retention.retain(taskDir('a'), 5_000); // and finishes
    retention.retain(taskDir('c'), 500);
    mock.timers.tick(4_000);
    assert.deepEqual([exists('a'), exists('c')], [true, false]);
    mock.timers.tick(1_000);
    assert.equal(exists('a'), false);
    retention.stop();
  });

  it('keeps the deadlines an earlier agent wrote, and a re-run many times over leaves one deadline', () => {
    const first = new TaskDirRetention(layout);
    first.retain(taskDir('a'), 2_000);
    for (let i = 0; i < 200; i++) {
      first.cancel(taskDir('d'));
      first.retain(taskDir('d'), 10_000 + i);
    }
    first.stop();
    const second = new TaskDirRetention(layout);
    second.load();
    mock.timers.tick(2_000);
    assert.deepEqual([exists('a'), exists('d')], [false, true]);
    mock.timers.tick(8_198);
    assert.equal(exists('d'), true, 'the last run set the deadline, not the first');
    mock.timers.tick(1);
    assert.equal(exists('d'), false);
    second.stop();
  });
});
