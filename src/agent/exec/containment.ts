import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as cgroups from './cgroups.js';

/**
 * Where a node's task runs live, so that a run can be killed whole and every run of a node at once,
 * by a mechanism no task can change (docs/security.md, "No task runs twice at once").
 *
 * With cgroup v2 (exec/cgroups.ts) each run gets a group of its own, and its process is born in it
 * without a race or an extra exec: the agent is in the run's group when it calls spawn() (fork
 * inherits the group), and moves on right after, into the empty group of the next run, where it
 * waits (one move of the agent per run, not two: a move is costly for a process of many threads).
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

/**
 * The empty group this process waits in, ready to be the next run's (NodeRuns.newRun): after a
 * spawn, the agent moves on to the next run's group rather than back to its own, so that each run
 * costs one move of the agent (all its threads) instead of two. Only the agent's own synchronous
 * helpers (getent, useradd: they have exited before the run starts) are born there before the run.
 */
let waitingIn: { runs: NodeRuns; dir: string } | undefined;
let exitHooked = false;

/** Back to the group this process started in (before anything kills groups it may wait in). */
function stopWaiting(): void {
  if (!waitingIn) return;
  const { runs, dir } = waitingIn;
  waitingIn = undefined;
  cgroups.leave();
  runs.giveBack(dir);
}

class CgroupRun implements RunGroup {
  private ended = false;

  /**
   * `runs` takes the group back once it is empty, for another run (saves a mkdir and an rmdir per
   * run). `entered`: this process waits in it already.
   */
  constructor(
    private readonly dir: string,
    private readonly runs: NodeRuns,
    private readonly entered: boolean,
  ) {}

  spawn<T extends { pid?: number | undefined }>(start: () => T): T {
    if (!this.entered) cgroups.enter(this.dir);
    try {
      return start();
    } finally {
      this.runs.waitForNextRun();
    }
  }

  kill(): void {
    // Once ended, the group may hold another run: a late kill of this one must not reach it.
    if (!this.ended) cgroups.killGroup(this.dir);
  }

  async end(): Promise<void> {
    // Mostly nothing is left, and this is one read: a group with no process gains none (only root
    // moves processes into it, and only forks of its members are born in it), so there is nothing to kill.
    const deadline = Date.now() + 10_000;
    for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
      if (!cgroups.populated(this.dir)) {
        this.ended = true;
        return this.runs.giveBack(this.dir);
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

/**
 * The reaper (bash, for `read -t`): $0 the agent's group, $1 the agent's pid, $2 the longest silence
 * allowed in seconds (empty: none). Each line from the agent says it still reaches its server
 * (NodeRuns.alive). Silence for longer than that means the agent hangs (stopped, stuck): its runs
 * are killed, as the agent itself would on its cut-off, before the server counts the node lost and
 * requeues them; the agent's own group is spared (it may wait in one for its next run). The end of
 * the pipe means the agent is gone: everything goes, and the groups with it.
 */
const REAPER_SCRIPT = [
  'kill_runs() {',
  '  for g in "$0"/*/; do',
  '    grep -qsx "$1" "$g/cgroup.procs" && continue',
  '    echo 1 > "$g/cgroup.kill" 2>/dev/null',
  '  done',
  '}',
  'while :; do',
  '  if [ -n "$2" ]; then IFS= read -r -t "$2" _; else IFS= read -r _; fi',
  '  st=$?',
  '  [ $st -eq 0 ] && continue',
  '  [ $st -gt 128 ] || break',
  '  kill_runs "$@"',
  'done',
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
  /** The longest the agent may go without reaching its server before the reaper kills its runs. */
  private silenceLimitMs: number | undefined;
  /** Empty run groups, ready for the next runs. */
  private readonly idle: string[] = [];

  constructor(readonly rootDir: string) {
    const nodeDir = cgroups.nodeGroupDir(rootDir);
    this.agentDir = nodeDir && path.join(nodeDir, `a${process.pid}`);
  }

  newRun(uid: number | undefined, uidIsTheRunsOwn: boolean): RunGroup {
    if (!this.agentDir) return new ProcessGroupRun(uidIsTheRunsOwn ? uid : undefined);
    if (waitingIn?.runs === this) {
      const { dir } = waitingIn;
      waitingIn = undefined;
      return new CgroupRun(dir, this, true);
    }
    // Waiting for another node's run (a process with several nodes' agents), or nowhere yet.
    stopWaiting();
    // Born outside every run's group (this process is home now).
    this.reaper ??= startReaper(this.agentDir, this.silenceLimitMs);
    return new CgroupRun(this.emptyGroup(), this, false);
  }

  /**
   * The agent reaches its server (joined, or a call answered): its runs may go on. After `limitMs`
   * without this the reaper kills them, even if this process hangs and can no longer do it itself.
   */
  alive(limitMs: number): void {
    // A reaper already started keeps its limit (the server's cut-off, the same for every session of this agent).
    this.silenceLimitMs = limitMs;
    this.reaper?.stdin?.write('\n');
  }

  /** Right after a spawn: this process moves on to the group of the next run (or home, if it cannot). */
  waitForNextRun(): void {
    try {
      const dir = this.emptyGroup();
      cgroups.enter(dir);
      waitingIn = { runs: this, dir };
      // An exit never happens in a run's group: the reaper, seeing this process go, would kill it
      // in the middle of its exit (and its exit status with it).
      if (!exitHooked) process.once('exit', stopWaiting);
      exitHooked = true;
    } catch {
      cgroups.leave();
    }
  }

  /** A group of this agent's that holds no process any more. */
  giveBack(dir: string): void {
    if (this.idle.length < MAX_IDLE_GROUPS) this.idle.push(dir);
    else cgroups.removeGroup(dir);
  }

  private emptyGroup(): string {
    let dir = this.idle.pop();
    if (dir === undefined || !fs.existsSync(dir)) {
      dir = path.join(this.agentDir!, `r${++this.seq}`);
      cgroups.makeGroup(dir);
    }
    return dir;
  }

  /** Kills every run of this agent and waits until they are gone; the reaper has nothing left to do. */
  close(): void {
    if (waitingIn?.runs === this) stopWaiting();
    if (this.agentDir) {
      cgroups.killAndRemove(this.agentDir);
      cgroups.removeGroupIfEmpty(path.dirname(this.agentDir));
    }
    this.idle.length = 0;
    this.reaper?.stdin?.destroy();
    this.reaper = undefined;
  }
}

function startReaper(agentDir: string, silenceLimitMs: number | undefined): ChildProcess {
  cgroups.makeGroup(agentDir);
  const limit = silenceLimitMs === undefined ? '' : (silenceLimitMs / 1000).toFixed(3);
  const reaper = spawn('/bin/bash', ['-c', REAPER_SCRIPT, agentDir, String(process.pid), limit], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
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
  // This process may wait in one of the node's groups for its next run: it leaves first.
  if (waitingIn && waitingIn.runs === registry.get(path.resolve(rootDir))) stopWaiting();
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
