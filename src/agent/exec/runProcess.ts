import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { nodeRuns } from './containment.js';

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
  /** Its groups, where it needs more than its gid (spawn drops supplementary groups; setpriv sets them). */
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

/**
 * util-linux's setpriv, by an absolute path: the task's environment (its PATH) must not choose what
 * runs as root. Through it, a program that cannot be started shows as exit code 127, not a launch error.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((candidate) => fs.existsSync(candidate));

/**
 * Runs one task process in a run group of its own (a cgroup, else a process group: see
 * exec/containment.ts), stdout and stderr going straight to files (readable while it runs), and
 * resolves when it has exited, nothing it started is left, and its output is on disk.
 */
export function runProcess(spec: ProcessSpec): RunningProcess {
  const startTime = Date.now();
  const { stdout, stderr } = spec;
  let timedOut = false;
  const group = nodeRuns(spec.nodeRoot).newRun(spec.uid, spec.uidIsTheRunsOwn ?? false);
  const viaSetpriv = spec.groups !== undefined && spec.uid !== undefined;
  const argv = viaSetpriv
    ? [SETPRIV ?? '/usr/bin/setpriv', `--reuid=${spec.uid}`, `--regid=${spec.gid ?? spec.uid}`, `--groups=${spec.groups!.join(',')}`, '--', ...spec.argv]
    : spec.argv;
  let child: ReturnType<typeof spawn>;
  try {
    child = group.spawn(() =>
      spawn(argv[0]!, argv.slice(1), {
        cwd: spec.cwd,
        env: spec.env,
        stdio: ['ignore', stdout, stderr],
        // A session of its own too: no terminal's signals reach it, and a process-group kill works without cgroups.
        detached: true,
        ...(viaSetpriv ? {} : { uid: spec.uid, gid: spec.gid }),
      }),
    );
  } catch (err) {
    void group.end();
    throw err;
  }
  const timer =
    spec.maxWallClockMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          group.kill();
        }, spec.maxWallClockMs)
      : undefined;
  const done = new Promise<ProcessOutcome>((resolve) => {
    let launchError: Error | undefined;
    child.once('error', (err) => {
      launchError = err;
      // 'exit' may never come for a process that never started.
      if (child.pid === undefined) finish(null, null);
    });
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (timer) clearTimeout(timer);
      const endTime = Date.now();
      // Children the task left behind die with it, as on a Batch node; the run ends when they are gone.
      void group.end().then(() => resolve({ exitCode: code ?? undefined, signal: signal ?? undefined, timedOut, launchError, startTime, endTime }));
    };
    child.once('exit', (code, signal) => finish(code, signal));
  });
  return { pid: child.pid, done, kill: () => group.kill() };
}
