import { spawn } from 'node:child_process';

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
  /** Kill the whole process group after this long. */
  maxWallClockMs?: number;
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
  /** Kills the whole process group: the task and everything it started. */
  kill(): void;
}

const killGroup = (pid: number | undefined): void => {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
};

/**
 * Runs one task process in a process group of its own, stdout and stderr going straight to files
 * (readable while it runs), and resolves when it has exited and its output is on disk.
 */
export function runProcess(spec: ProcessSpec): RunningProcess {
  const startTime = Date.now();
  const { stdout, stderr } = spec;
  let timedOut = false;
  const child = spawn(spec.argv[0]!, spec.argv.slice(1), {
    cwd: spec.cwd,
    env: spec.env,
    stdio: ['ignore', stdout, stderr],
    detached: true,
    uid: spec.uid,
    gid: spec.gid,
  });
  const timer =
    spec.maxWallClockMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child.pid);
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
      // Children the task left behind in its group die with it, as on a Batch node.
      killGroup(child.pid);
      resolve({ exitCode: code ?? undefined, signal: signal ?? undefined, timedOut, launchError, startTime, endTime: Date.now() });
    };
    child.once('exit', (code, signal) => finish(code, signal));
  });
  return { pid: child.pid, done, kill: () => killGroup(child.pid) };
}
