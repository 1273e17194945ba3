// CPU time per task, which a busy machine's wall clock cannot show: `kiln up`'s own CPU and that of
// each node agent (with the task processes and helpers it waited for), read from /proc/<pid>/stat
// before and after N trivial tasks (/bin/true) on a local pool of 2 nodes, divided by N. A warm-up
// job runs first, so that what a node does once (its pool user, its run groups) is not counted.
// With --strace, each agent is traced (strace -f -c) during the measured tasks: its system calls
// per task, by name (tracing slows the run: its CPU figures are not comparable then).
// Usage: node --import tsx bench/tasks/cpu.ts [--tasks N] [--slots N] [--strace] [--perf FILE [--perf-server]] [--cpu-prof DIR] [--nodes-in DIR]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BatchServiceClient } from '@azure/batch';
import { startKiln, waitFor } from '../../test/helpers/kiln.js';

const { values: args } = parseArgs({
  options: {
    tasks: { type: 'string', default: '1000' },
    slots: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '100' },
    strace: { type: 'boolean', default: false },
    /** perf record -g of the agents (or, with --perf-server, of kiln up itself) during the measured tasks, into this file. */
    perf: { type: 'string' },
    'perf-server': { type: 'boolean', default: false },
    /** V8's CPU profiles of kiln up and of the agents (warm-up included), written into this directory as they stop. */
    'cpu-prof': { type: 'string' },
    /** Where the nodes' directories go (a tmpfs such as /dev/shm takes the disk's noise out of the figures). */
    'nodes-in': { type: 'string' },
  },
});
const TASKS = Number(args.tasks);
const SLOTS = Number(args.slots);
const WARMUP = Number(args.warmup);
const IMAGE = {
  imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts', version: 'latest' },
  nodeAgentSKUId: 'batch.node.ubuntu 22.04',
};
/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux everywhere in practice). */
const HZ = 100;

interface Times {
  /** utime + stime, ms. */
  self: number;
  /** stime alone (in the kernel), ms. */
  system: number;
  /** cutime + cstime: children waited for, ms. */
  children: number;
}

function times(pid: number): Times {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  // Fields after the command name (which may hold spaces): state is field 3, utime 14 … cstime 17.
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const at = (field: number) => f[field - 3]!;
  return { self: ((at(14) + at(15)) * 1000) / HZ, system: (at(15) * 1000) / HZ, children: ((at(16) + at(17)) * 1000) / HZ };
}

/** CPU busy time of the whole machine so far, ms (/proc/stat: user, nice, system, irq, softirq, steal), to count what no one process accounts for (task processes reaped by others, kernel work). */
function machineBusyMs(): number {
  const cpu = fs.readFileSync('/proc/stat', 'latin1').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu as [number, number, number, number, number, number, number, number];
  return ((user + nice + system + irq + softirq + steal) * 1000) / HZ;
}

function childPids(pid: number): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
}

/** A process's command line, or '' once it is gone. */
const commandLine = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};
const isLauncher = (pid: number): boolean => commandLine(pid).includes('launcher.pl');
const isAgent = (pid: number): boolean => commandLine(pid).split('\0').includes('agent');

async function runTasks(batch: BatchServiceClient, jobId: string, poolId: string, n: number): Promise<void> {
  await batch.job.add({ id: jobId, poolInfo: { poolId } });
  for (let first = 0; first < n; first += 100) {
    const tasks = Array.from({ length: Math.min(100, n - first) }, (_, k) => ({ id: `t${first + k}`, commandLine: '/bin/true' }));
    await batch.task.addCollection(jobId, tasks);
  }
  await waitFor(
    `${n} tasks of ${jobId} completed`,
    async () => {
      const counts = await batch.job.getTaskCounts(jobId);
      return counts.taskCounts.completed === n ? counts : undefined;
    },
    600_000,
  );
  const counts = await batch.job.getTaskCounts(jobId);
  if (counts.taskCounts.succeeded !== n) throw new Error(`only ${counts.taskCounts.succeeded} of ${n} tasks succeeded`);
}

function startStrace(pid: number, out: string): ChildProcess {
  return spawn('strace', ['-f', '-c', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
}

async function main(): Promise<void> {
  const nodesDir = args['nodes-in'] ? fs.mkdtempSync(path.join(args['nodes-in'], 'kiln-nodes-')) : undefined;
  // Non-admin tasks must get through it (kiln up refuses one they cannot).
  if (nodesDir) fs.chmodSync(nodesDir, 0o755);
  const kiln = await startKiln({
    ...(nodesDir ? { nodesDir } : {}),
    ...(args['cpu-prof'] ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] } : {}),
  });
  const traces: { tracer: ChildProcess; file: string }[] = [];
  try {
    const batch = kiln.batchClient();
    const poolId = 'cpu';
    await batch.pool.add({ id: poolId, vmSize: 'standard_d2s_v3', targetDedicatedNodes: 2, taskSlotsPerNode: SLOTS, virtualMachineConfiguration: IMAGE });
    await waitFor(
      '2 idle nodes',
      async () => {
        const nodes = await batch.computeNode.list(poolId);
        return nodes.length === 2 && nodes.every((x) => x.state === 'idle') ? true : undefined;
      },
      60_000,
    );
    await runTasks(batch, 'warmup', poolId, WARMUP);
    const server = kiln.child.pid!;
    const agents = childPids(server).filter(isAgent);
    if (agents.length !== 2) throw new Error(`expected 2 agents, found ${agents.length}`);
    if (args.strace) {
      for (const pid of agents) {
        const file = path.join(os.tmpdir(), `kiln-strace-${pid}.txt`);
        traces.push({ tracer: startStrace(pid, file), file });
      }
      await new Promise((r) => setTimeout(r, 500)); // strace attaches asynchronously; a bench, not a test
    }
    if (args.perf) {
      traces.push({
        tracer: spawn('perf', ['record', '-F', '1999', '-g', '-o', args.perf, '-p', args['perf-server'] ? String(server) : agents.join(',')], { stdio: 'ignore' }),
        file: '',
      });
      await new Promise((r) => setTimeout(r, 500));
    }
    // Each agent's task launcher (exec/launcher.ts) forks and reaps the tasks: its CPU and theirs.
    const launchers = agents.flatMap(childPids).filter(isLauncher);
    const before = [server, ...agents].map(times);
    const launchersBefore = launchers.map(times);
    const machine0 = machineBusyMs();
    const client0 = process.cpuUsage();
    const started = performance.now();
    await runTasks(batch, 'measured', poolId, TASKS);
    const seconds = (performance.now() - started) / 1000;
    const after = [server, ...agents].map(times);
    const launchersAfter = launchers.map(times);
    const launcherSelf = launchers.reduce((sum, _, i) => sum + launchersAfter[i]!.self - launchersBefore[i]!.self, 0);
    const launcherChildren = launchers.reduce((sum, _, i) => sum + launchersAfter[i]!.children - launchersBefore[i]!.children, 0);
    const machineMs = machineBusyMs() - machine0;
    const client = process.cpuUsage(client0);
    const perTask = (ms: number) => ((ms / TASKS) * 1000).toFixed(0);
    const serverMs = after[0]!.self - before[0]!.self;
    const agentSelf = agents.reduce((sum, _, i) => sum + after[i + 1]!.self - before[i + 1]!.self, 0);
    const agentSystem = agents.reduce((sum, _, i) => sum + after[i + 1]!.system - before[i + 1]!.system, 0);
    const agentChildren = agents.reduce((sum, _, i) => sum + after[i + 1]!.children - before[i + 1]!.children, 0);
    const load = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    console.log(
      `${TASKS} tasks, 2 nodes × ${SLOTS} slot(s), ${(TASKS / seconds).toFixed(0)} tasks/s, load ${load}\n` +
        `CPU µs per task: server ${perTask(serverMs)} (system ${perTask(after[0]!.system - before[0]!.system)}), agents ${perTask(agentSelf)} (system ${perTask(agentSystem)}; + children waited for ${perTask(agentChildren)}), ` +
        `launchers ${perTask(launcherSelf)} (+ tasks ${perTask(launcherChildren)}), total ${perTask(serverMs + agentSelf + agentChildren + launcherSelf + launcherChildren)}; client ${perTask((client.user + client.system) / 1000)}; whole machine ${perTask(machineMs)}`,
    );
    if (traces.length > 0) {
      for (const { tracer } of traces) tracer.kill('SIGINT');
      await Promise.all(traces.map(({ tracer }) => new Promise((r) => (tracer.exitCode !== null ? r(null) : tracer.once('exit', r)))));
      for (const { file } of traces) if (file) console.log(summarise(fs.readFileSync(file, 'utf8'), TASKS / 2));
    }
    if (args['cpu-prof']) {
      // An agent writes its profile when it exits on its own (kiln up's stop SIGKILLs them).
      for (const pid of agents) process.kill(pid, 'SIGTERM');
      await waitFor('the agents to write their profiles', () => (agents.every((pid) => !fs.existsSync(`/proc/${pid}`)) ? true : undefined));
    }
  } finally {
    for (const { tracer, file } of traces) {
      tracer.kill('SIGKILL');
      if (file) fs.rmSync(file, { force: true });
    }
    await kiln.stop();
    fs.rmSync(kiln.dataDir, { recursive: true, force: true });
    fs.rmSync(kiln.nodesDir, { recursive: true, force: true });
  }
}

/** strace -c's table as calls per task (each agent ran about half of the tasks). */
function summarise(table: string, tasks: number): string {
  const rows = table
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols.length >= 5 && /^\d/.test(cols[0]!) && cols[cols.length - 1] !== 'total')
    .map((cols) => ({ name: cols[cols.length - 1]!, calls: Number(cols[3]) }))
    .filter((r) => Number.isFinite(r.calls))
    .sort((a, b) => b.calls - a.calls);
  const total = rows.reduce((s, r) => s + r.calls, 0);
  return (
    `agent syscalls per task: ${(total / tasks).toFixed(1)} — ` +
    rows
      .slice(0, 25)
      .map((r) => `${r.name} ${(r.calls / tasks).toFixed(1)}`)
      .join(', ')
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
