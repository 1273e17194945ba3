import * as cgroups from './cgroups.js';
import { nodeRuns } from './containment.js';
import { Launcher, type Launched } from './launcher.js';

export interface ProcessSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Open descriptors for the task's stdout.txt and stderr.txt, owned by the caller (runTask opens them safely). */
  stdout: number;
  stderr: number;
  /** Run as this OS user; undefined = the agent's own user. */
  uid?: number;
  gid?: number;
  /** Its supplementary groups, where it needs more than its gid. */
  groups?: number[];
  /** Kill the whole run after this long. */
  maxWallClockMs?: number;
  /** The node root the run belongs to: its processes are held with that node's runs (exec/containment.ts). */
  nodeRoot: string;
  /** The uid is this run's alone (a task-scope user): without cgroups, all its processes are the run's. */
  uidIsTheRunsOwn?: boolean;
}

export interface ProcessOutcome {
  /** undefined when the process could not be started or was killed by a signal. */
  exitCode: number | undefined;
  signal: NodeJS.Signals | undefined;
  timedOut: boolean;
  /** Set when the program could not be started at all (not found, not executable). */
  launchError: Error | undefined;
  startTime: number;
  endTime: number;
}

export interface RunningProcess {
  pid: number | undefined;
  done: Promise<ProcessOutcome>;
  /** Kills the whole run: the task and everything it started, wherever it went (setsid included). */
  kill(): void;
}

let shared: Launcher | undefined;
const launcher = (): Launcher => (shared ??= new Launcher(cgroups.homeDir()));

/**
 * Runs one task process in a run group of its own (a cgroup, else a process group: see
 * exec/containment.ts), stdout and stderr going straight to files (readable while it runs). Resolves
 * once the process runs or could not start (the caller may close its descriptors then); its `done`
 * resolves when it has exited, nothing it started is left, and its output is on disk.
 */
export async function runProcess(spec: ProcessSpec): Promise<RunningProcess> {
  const startTime = Date.now();
  const group = nodeRuns(spec.nodeRoot).newRun(spec.uid, spec.uidIsTheRunsOwn ?? false);
  let launched: Launched;
  try {
    launched = await launcher().launch({ ...spec, cgroup: group.cgroup });
  } catch (err) {
    await group.end();
    throw err;
  }
  if ('launchError' in launched) {
    await group.end();
    const outcome = { exitCode: undefined, signal: undefined, timedOut: false, launchError: launched.launchError, startTime, endTime: Date.now() };
    return { pid: undefined, done: Promise.resolve(outcome), kill: () => undefined };
  }
  group.started(launched.pid);
  let timedOut = false;
  const timer =
    spec.maxWallClockMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          group.kill();
        }, spec.maxWallClockMs)
      : undefined;
  const done = launched.exited.then(async ({ code, signal }) => {
    if (timer) clearTimeout(timer);
    const endTime = Date.now();
    // Children the task left behind die with it, as on a Batch node; the run ends when they are gone.
    await group.end();
    return { exitCode: code ?? undefined, signal: signal ?? undefined, timedOut, launchError: undefined, startTime, endTime };
  });
  return { pid: launched.pid, done, kill: () => group.kill() };
}
