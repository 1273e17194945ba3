import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { BatchServiceClient, BatchServiceModels } from '@azure/batch';
import { batchRequest } from '../helpers/batchHttp.js';
import { ACCOUNT, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';

/** A pool spec Kiln accepts: an Ubuntu 22.04 image on a 2-core size. */
export const vm = {
  imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', version: 'latest' },
  nodeAgentSKUId: 'batch.node.ubuntu 22.04',
};

export const admin = { autoUser: { scope: 'pool', elevationLevel: 'admin' } } as const;
export const nonAdmin = { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } } as const;

let counter = 0;
/** Ids unique within a test file and across runs of it. */
export const uid = (prefix: string): string => `${prefix}-${process.pid}-${++counter}`;

/** The node root directory a local node of `kiln up` runs in. */
export const nodeRoot = (kiln: KilnProcess, poolId: string, nodeId: string): string => path.join(kiln.nodesDir, ACCOUNT, poolId.toLowerCase(), nodeId);

/** A task's stdout.txt, through the task files API. */
export async function taskStdout(kiln: KilnProcess, client: BatchServiceClient, jobId: string, taskId: string): Promise<string> {
  return taskFile(kiln, client, jobId, taskId, 'stdout.txt');
}

/**
 * A file of a task (`stdout.txt`, `wd/out.txt`), through the task files API (GET
 * /jobs/{job}/tasks/{task}/files/{path}). The one place tests read task files: `taskFileOnDisk`
 * reads the node's disk instead, should the API be unavailable.
 */
export async function taskFile(_kiln: KilnProcess, client: BatchServiceClient, jobId: string, taskId: string, name: string): Promise<string> {
  const response = await client.file.getFromTask(jobId, taskId, name);
  const chunks: Buffer[] = [];
  for await (const chunk of response.readableStreamBody!) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function taskFileOnDisk(kiln: KilnProcess, client: BatchServiceClient, jobId: string, taskId: string, name: string): Promise<string> {
  const task = await client.task.get(jobId, taskId);
  const info = task.nodeInfo;
  if (!info?.nodeId || !info.poolId) throw new Error(`task ${taskId} has no node`);
  return fs.readFileSync(path.join(nodeRoot(kiln, info.poolId, info.nodeId), 'workitems', jobId, 'job-1', taskId, name), 'utf8');
}

/** Waits until the pool has `count` nodes, all in one of `states`; returns them. */
export async function waitForNodes(
  client: BatchServiceClient,
  poolId: string,
  count: number,
  states: string[] = ['idle'],
  timeoutMs = 30_000,
): Promise<BatchServiceModels.ComputeNode[]> {
  return waitFor(
    `${count} nodes of ${poolId} in ${states.join('/')}`,
    async () => {
      const nodes = await client.computeNode.list(poolId);
      return nodes.length === count && nodes.every((n) => states.includes(n.state!)) ? nodes : undefined;
    },
    timeoutMs,
  );
}

export async function waitForTask(client: BatchServiceClient, jobId: string, taskId: string, state = 'completed', timeoutMs = 30_000): Promise<BatchServiceModels.CloudTask> {
  return waitFor(
    `task ${taskId} ${state}`,
    async () => {
      const task = await client.task.get(jobId, taskId);
      return task.state === state ? task : undefined;
    },
    timeoutMs,
  );
}

export async function waitForTasks(client: BatchServiceClient, jobId: string, count: number, timeoutMs = 30_000): Promise<BatchServiceModels.CloudTask[]> {
  return waitFor(
    `${count} tasks of ${jobId} completed`,
    async () => {
      const tasks = await client.task.list(jobId);
      return tasks.length === count && tasks.every((t) => t.state === 'completed') ? tasks : undefined;
    },
    timeoutMs,
  );
}

/** Adds a pool of `n` dedicated nodes and waits for them to be idle. */
export async function addPool(
  client: BatchServiceClient,
  poolId: string,
  n: number,
  extra: Partial<BatchServiceModels.PoolAddParameter> = {},
): Promise<BatchServiceModels.ComputeNode[]> {
  await client.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: n, ...extra });
  return waitForNodes(client, poolId, n);
}

/** The pids of the agent processes of a node (normally one). */
export function agentPids(nodeId: string): number[] {
  try {
    return execFileSync('pgrep', ['-f', `agent .*--node-id ${nodeId}( |$)`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Every process whose command line names this nodes directory (agents, and tasks run from it). */
export function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      if (cmd.includes(dir) || cwd.startsWith(dir)) out.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes.
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** A directory every user may write (tasks of both nodes append to files in it). */
export function sharedTempDir(prefix: string): string {
  const dir = tempDir(prefix);
  fs.chmodSync(dir, 0o777);
  return dir;
}

/** Why an active task waits: Kiln's extra property on the task, which the SDK drops (so raw HTTP). */
export async function waitingReason(kiln: KilnProcess, jobId: string, taskId: string): Promise<string | undefined> {
  const res = await batchRequest(kiln.batchUrl, 'GET', `/jobs/${encodeURIComponent(jobId)}/tasks/${encodeURIComponent(taskId)}`);
  if (res.status !== 200) throw new Error(`GET task ${taskId}: ${res.status} ${res.text}`);
  return (res.json() as { kilnWaitingReason?: string }).kilnWaitingReason;
}

/**
 * Gates in a directory every task can write: a gated command records its pid and waits until the
 * test opens its gate, so a test holds tasks running for exactly as long as it needs them to.
 */
export function gates(dir: () => string) {
  const lines = (name: string): string[] => {
    const file = path.join(dir(), name);
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : [];
  };
  return {
    gated: (name: string, then = '') => `/bin/sh -c 'echo $$ >> ${dir()}/${name}.pids; while [ ! -e ${dir()}/${name} ]; do sleep 0.02; done; ${then}'`,
    open: (name: string) => fs.writeFileSync(path.join(dir(), name), ''),
    lines,
    pids: (name: string): number[] => lines(`${name}.pids`).map(Number),
  };
}

/** Stops a test's Kiln, checks it left no agent or task running, and removes its directories. */
export async function stopKiln(kiln: KilnProcess, ...extraDirs: string[]): Promise<void> {
  await kiln.stop();
  assert.deepEqual(processesUnder(kiln.nodesDir), [], 'kiln stops every agent and task it started');
  for (const dir of [kiln.dataDir, kiln.nodesDir, ...extraDirs]) fs.rmSync(dir, { recursive: true, force: true });
}
