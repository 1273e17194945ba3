import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as cgroups from './cgroups.js';

/**
 * Where a node's task runs live, so that a run can be killed whole and every run of a node at once,
 * by a mechanism no task can change (docs/security.md, "No task runs twice at once").
 *
 * With cgroup v2 (exec/cgroups.ts) each run gets a group of its own, and its process is born in it,
 * without a race or an extra exec (the launcher, exec/launcher.ts, clones it into the group).
 * Each agent keeps one "reaper": a `sh` in its own session,
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
  /** The cgroup the run's process must be born in; undefined for a process-group run. */
  readonly cgroup: string | undefined;
  /** The run's process has started (its pid is its process group's id: it has a session of its own). */
  started(pid: number): void;
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

/**
 * A run's group is its alone, made for it and removed after it, never reused: once `cgroup.kill`
 * has been written to a group, Linux (6.18 here) SIGKILLs every process later cloned into it with
 * CLONE_INTO_CGROUP (the kill sequence a clone compares is read from the parent's group, not the
 * target's), and a group may be killed by the reaper without this process knowing.
 */
class CgroupRun implements RunGroup {
  constructor(private readonly dir: string) {}

  get cgroup(): string {
    return this.dir;
  }

  started(): void {
    // The group holds the run, whatever its pid.
  }

  kill(): void {
    cgroups.killGroup(this.dir);
  }

  async end(): Promise<void> {
    // Mostly nothing is left, and this is one read: a group with no process gains none (only root
    // moves processes into it, and only forks of its members are born in it), so there is nothing to kill.
    const deadline = Date.now() + 10_000;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      if (!cgroups.populated(this.dir)) {
        cgroups.removeGroup(this.dir);
        return;
      }
      cgroups.killGroup(this.dir);
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

  readonly cgroup = undefined;

  started(pid: number): void {
    this.pid = pid;
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

/**
 * The reaper (bash, for `read -t`): $0 the agent's group, $1 the longest silence allowed in seconds
 * (empty: none). Each line from the agent says it still reaches its server (NodeRuns.alive).
 * Silence for longer than that means the agent hangs (stopped, stuck): its runs are killed, as the
 * agent itself would on its cut-off, before the server counts the node lost and requeues them. The
 * end of the pipe means the agent is gone: everything goes, and the groups with it.
 */
const REAPER_SCRIPT = [
  'kill_runs() {',
  '  for g in "$0"/*/; do',
  '    echo 1 > "$g/cgroup.kill" 2>/dev/null',
  '  done',
  '}',
  'while :; do',
  '  if [ -n "$1" ]; then IFS= read -r -t "$1" _; else IFS= read -r _; fi',
  '  st=$?',
  '  [ $st -eq 0 ] && continue',
  '  [ $st -gt 128 ] || break',
  '  kill_runs',
  'done',
  'echo 1 > "$0/cgroup.kill" 2>/dev/null',
  'i=0',
  'while grep -qs "populated 1" "$0/cgroup.events" && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done',
  'find "$0" -depth -type d -exec rmdir {} + 2>/dev/null',
  // The node's group too, unless another agent of the node has runs there.
  'rmdir "$(dirname "$0")" 2>/dev/null',
  'exit 0',
].join('\n');

/** One node's runs, in this agent process. */
export class NodeRuns {
  private readonly agentDir: string | undefined;
  private reaper: ChildProcess | undefined;
  private seq = 0;
  /** The longest the agent may go without reaching its server before the reaper kills its runs. */
  private silenceLimitMs: number | undefined;
  /** When the reaper last heard that the agent reaches its server. */
  private toldAt = -Infinity;

  constructor(readonly rootDir: string) {
    const nodeDir = cgroups.nodeGroupDir(rootDir);
    this.agentDir = nodeDir && path.join(nodeDir, `a${process.pid}`);
  }

  newRun(uid: number | undefined, uidIsTheRunsOwn: boolean): RunGroup {
    if (!this.agentDir) return new ProcessGroupRun(uidIsTheRunsOwn ? uid : undefined);
    this.reaper ??= startReaper(this.agentDir, this.silenceLimitMs);
    const dir = path.join(this.agentDir, `r${++this.seq}`);
    cgroups.makeGroup(dir);
    return new CgroupRun(dir);
  }

  /**
   * The agent reaches its server (joined, or a call answered): its runs may go on. After `limitMs`
   * without this the reaper kills them, even if this process hangs and can no longer do it itself.
   */
  alive(limitMs: number): void {
    // A reaper already started keeps its limit (the server's cut-off, the same for every session of this agent).
    this.silenceLimitMs = limitMs;
    // Every answered call says so; a word to the reaper a tenth of its limit at most is as good, and
    // wakes it far less often.
    const now = performance.now();
    if (!this.reaper || now - this.toldAt < limitMs / 10) return;
    this.toldAt = now;
    this.reaper.stdin?.write('\n');
  }

  /** Kills every run of this agent and waits until they are gone; the reaper has nothing left to do. */
  close(): void {
    if (this.agentDir) {
      cgroups.killAndRemove(this.agentDir);
      cgroups.removeGroupIfEmpty(path.dirname(this.agentDir));
    }
    this.reaper?.stdin?.destroy();
    this.reaper = undefined;
  }
}

function startReaper(agentDir: string, silenceLimitMs: number | undefined): ChildProcess {
  cgroups.makeGroup(agentDir);
  const limit = silenceLimitMs === undefined ? '' : (silenceLimitMs / 1000).toFixed(3);
  const reaper = spawn('/bin/bash', ['-c', REAPER_SCRIPT, agentDir, limit], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
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
