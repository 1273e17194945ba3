import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as cgroups from './cgroups.js';

/**
 * Where a node's task runs live, so that a run can be killed whole and every run of a node at once,
 * by a mechanism no task can change (docs/security.md, "No task runs twice at once").
 *
 * With cgroup v2 (exec/cgroups.ts) each run gets a group of its own, and its process is born in it
 * without a race or an extra exec: the agent moves itself into the run's group just around spawn()
 * (fork inherits the group) and back. Each agent keeps one "reaper": a `sh` in its own session,
 * outside every run's group, holding a pipe from the agent. When the pipe ends, because the agent
 * exited or was SIGKILLed, the reaper kills the agent's groups and removes them: no run outlives
 * its agent, even one never restarted. The server side (local nodes) and a restarted agent kill
 * the node's groups themselves too (`killNodeRuns`).
 *
 * Without a writable cgroup v2 hierarchy, runs fall back to process groups: a run is killed with
 * its process group, plus every process of its user when that user is the run's own (task-scope
 * auto-users); a task that calls setsid as a pool-wide user escapes that, and nothing kills runs
 * of an agent that was SIGKILLed until the next agent on that node starts (best effort: by the
 * node root in their environment, which a task can change).
 */
export interface RunGroup {
  /** Calls `start` (a spawn) so that the process it starts is born in this run's group. */
  spawn<T extends { pid?: number | undefined }>(start: () => T): T;
  /** SIGKILLs every process of the run. */
  kill(): void;
  /** After the run's main process has exited: kills what it left behind, and resolves once none is left. */
  end(): Promise<void>;
}

/** Kills every process whose real uid is `uid` (for users that belong to one run, or that are being removed). */
export function killProcessesOf(uid: number): void {
  if (uid === 0) throw new Error('refusing to kill every process of root');
  for (const pid of listPids()) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
      if (Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) === uid) process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}

function listPids(): string[] {
  try {
    return fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
}

const killProcessGroup = (pid: number | undefined): void => {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
};

class CgroupRun implements RunGroup {
  private ended = false;

  /** `done`: the group is empty again and may hold another run (saves a mkdir and an rmdir per run). */
  constructor(
    private readonly dir: string,
    private readonly done: (dir: string) => void,
  ) {}

  spawn<T extends { pid?: number | undefined }>(start: () => T): T {
    cgroups.enter(this.dir);
    try {
      return start();
    } finally {
      cgroups.leave();
    }
  }

  kill(): void {
    // Once ended, the group may hold another run: a late kill of this one must not reach it.
    if (!this.ended) cgroups.killGroup(this.dir);
  }

  async end(): Promise<void> {
    // Mostly nothing is left, and this is one write and one read.
    const deadline = Date.now() + 10_000;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      cgroups.killGroup(this.dir);
      if (!cgroups.populated(this.dir)) {
        this.ended = true;
        return this.done(this.dir);
      }
      // Stuck in the kernel for this long: the group is left as it is, for killNodeRuns.
      if (Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

class ProcessGroupRun implements RunGroup {
  private pid: number | undefined;

  /** `ownUid`: the run's user is the run's alone, so all its processes are the run's. */
  constructor(private readonly ownUid: number | undefined) {}

  spawn<T extends { pid?: number | undefined }>(start: () => T): T {
    const child = start();
    this.pid = child.pid;
    return child;
  }

  kill(): void {
    killProcessGroup(this.pid);
    if (this.ownUid !== undefined) killProcessesOf(this.ownUid);
  }

  end(): Promise<void> {
    this.kill();
    return Promise.resolve();
  }
}

const REAPER_SCRIPT = [
  // Waits for the end of its stdin: the agent's pipe ends when the agent does, however it ends.
  'read -r _',
  'echo 1 > "$0/cgroup.kill" 2>/dev/null',
  'i=0',
  'while grep -qs "populated 1" "$0/cgroup.events" && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done',
  'find "$0" -depth -type d -exec rmdir {} + 2>/dev/null',
  // The node's group too, unless another agent of the node has runs there.
  'rmdir "$(dirname "$0")" 2>/dev/null',
  'exit 0',
].join('\n');

const MAX_IDLE_GROUPS = 64;

/** One node's runs, in this agent process. */
export class NodeRuns {
  private readonly agentDir: string | undefined;
  private reaper: ChildProcess | undefined;
  private seq = 0;
  /** Empty run groups, ready for the next runs. */
  private readonly idle: string[] = [];

  constructor(readonly rootDir: string) {
    const nodeDir = cgroups.nodeGroupDir(rootDir);
    this.agentDir = nodeDir && path.join(nodeDir, `a${process.pid}`);
  }

  newRun(uid: number | undefined, uidIsTheRunsOwn: boolean): RunGroup {
    if (!this.agentDir) return new ProcessGroupRun(uidIsTheRunsOwn ? uid : undefined);
    this.reaper ??= startReaper(this.agentDir);
    let dir = this.idle.pop();
    if (dir === undefined || !fs.existsSync(dir)) {
      dir = path.join(this.agentDir, `r${++this.seq}`);
      cgroups.makeGroup(dir);
    }
    return new CgroupRun(dir, (empty) => {
      if (this.idle.length < MAX_IDLE_GROUPS) this.idle.push(empty);
      else cgroups.removeGroup(empty);
    });
  }

  /** Kills every run of this agent and waits until they are gone; the reaper has nothing left to do. */
  close(): void {
    if (this.agentDir) {
      cgroups.killAndRemove(this.agentDir);
      cgroups.removeGroupIfEmpty(path.dirname(this.agentDir));
    }
    this.idle.length = 0;
    this.reaper?.stdin?.destroy();
    this.reaper = undefined;
  }
}

function startReaper(agentDir: string): ChildProcess {
  cgroups.makeGroup(agentDir);
  const reaper = spawn('/bin/sh', ['-c', REAPER_SCRIPT, agentDir], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  reaper.on('error', () => undefined);
  reaper.stdin!.on('error', () => undefined);
  // The reaper never keeps this process alive; it only outlives it.
  reaper.unref();
  (reaper.stdin as unknown as { unref?: () => void }).unref?.();
  return reaper;
}

const registry = new Map<string, NodeRuns>();

/** The runs of the node with this root directory in this process (one per node, made on first use). */
export function nodeRuns(rootDir: string): NodeRuns {
  const key = path.resolve(rootDir);
  let runs = registry.get(key);
  if (!runs) registry.set(key, (runs = new NodeRuns(key)));
  return runs;
}

/** Stops every run of this process's agent for that node, and forgets it (the agent stops). */
export function closeNodeRuns(rootDir: string): void {
  const key = path.resolve(rootDir);
  registry.get(key)?.close();
  registry.delete(key);
}

/**
 * Kills whatever runs of a node are left (its agent died, or the node is being stopped or started
 * again), and returns once they are gone. With cgroups: every group of the node, of every agent
 * that ran it. Without: best effort, by the node root in their environment.
 */
export function killNodeRuns(rootDir: string): void {
  const nodeDir = cgroups.nodeGroupDir(rootDir);
  if (nodeDir) {
    cgroups.killAndRemove(nodeDir);
    return;
  }
  killByEnvironment(path.resolve(rootDir));
}

function killByEnvironment(rootDir: string): void {
  const marker = `AZ_BATCH_NODE_ROOT_DIR=${rootDir}\0`;
  for (const pid of listPids()) {
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!environ.startsWith(marker) && !environ.includes(`\0${marker}`)) continue;
      // Field 5 of /proc/PID/stat is the process group; the command name before it may hold spaces.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      process.kill(pgid > 1 && pgid !== process.pid ? -pgid : Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}
