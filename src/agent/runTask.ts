import fs from 'node:fs';
import { CommandLineError, splitCommandLine } from './exec/commandLine.js';
import { runProcess, type RunningProcess } from './exec/runProcess.js';
import { taskEnvironment, type NodeIdentity } from './environment.js';
import type { NodeLayout, TaskDirs } from './layout.js';
import { uploadOutputFiles, type OutputFileSpec } from './outputFiles.js';
import { ConfinedPathError } from './fs/confinedPath.js';
import type { Owner, PinnedDir } from './fs/pinnedDir.js';
import { downloadResourceFile, ResourceFileError, type ResourceFileSource } from './resourceFiles.js';
import { createOutputFile, prepareTaskDir } from './taskDir.js';
import { UnknownUserError, userFor, type RunAs, type TaskUserSpec } from './users.js';
import type { FailureInfo } from '../domain/batch/models.js';

export type { FailureInfo };

/** One run of a start task, job preparation/release task or task, as the agent receives it. */
export interface TaskRunSpec {
  jobId?: string;
  taskId?: string;
  commandLine: string;
  resourceFiles: ResourceFileSource[];
  environmentSettings: { name: string; value?: string }[];
  outputFiles: OutputFileSpec[];
  elevated: boolean;
  /** Which OS user runs it (agent/users.ts); without it, the pool's auto-user at `elevated`. */
  user?: TaskUserSpec;
  /** PoolNonAdmin, PoolAdmin, TaskNonAdmin, TaskAdmin. */
  userIdentity: string;
  maxWallClockMs?: number;
  /** How long the task's directory stays after it finishes (constraints.retentionTime). */
  retentionMs?: number;
  jobPreparation?: TaskDirs;
}

export interface TaskRunResult {
  startTime: string;
  endTime: string;
  exitCode?: number;
  result: 'success' | 'failure';
  failureInfo?: FailureInfo;
  /** Failed before the command ran (resource files, launch): Azure does not retry these. */
  preProcessingError: boolean;
  fileUploadError: boolean;
}

const failure = (code: string, message: string, details?: FailureInfo['details'], category: FailureInfo['category'] = 'usererror'): FailureInfo => ({
  category,
  code,
  message,
  ...(details ? { details } : {}),
});

function downloadFailure(err: unknown): FailureInfo {
  const message = err instanceof Error ? err.message : String(err);
  const code = / 404 /.test(message) ? 'BlobNotFound' : / 403 /.test(message) ? 'BlobAccessDenied' : 'BlobDownloadMiscError';
  return failure(
    code,
    `A resource file could not be downloaded: ${message}`,
    err instanceof ResourceFileError && err.source ? [{ name: 'FilePath', value: err.source.split('?')[0] ?? '' }] : undefined,
  );
}

/**
 * Anything else that went wrong preparing or running a task fails that task, never the agent: the
 * task's fault when it left something the agent refuses to use (a link where its directory is), the
 * node's otherwise.
 */
function preparationFailure(err: unknown): FailureInfo {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ConfinedPathError) return failure('TaskFileRefused', `The node refused a file of the task: ${message}`);
  if (err instanceof UnknownUserError) return failure('UserNotFound', message);
  return failure('NodeAgentError', `The node could not prepare or run the task: ${message}`, undefined, 'servererror');
}

/** spawn throws at once for what it cannot pass to exec (a NUL byte): say so without echoing values, which may be secrets. */
function launchFailure(program: string, err: unknown): FailureInfo {
  const nul = (err as NodeJS.ErrnoException).code === 'ERR_INVALID_ARG_VALUE';
  const reason = nul ? 'an argument or an environment value holds a NUL byte' : err instanceof Error ? err.message : String(err);
  return failure('CommandLaunchFailed', `The program "${program}" could not be started: ${reason}`);
}

export interface TaskRun {
  done: Promise<TaskRunResult>;
  /** Stops the run: kills its process group if it started. */
  kill(): void;
}

/**
 * Runs one task on this node: its directories, resource files, the process (no shell, in its own
 * process group, as its user, within its wall-clock limit), then its output files. Whatever fails
 * on the way fails the task, with Azure's failure info; `done` never rejects.
 */
export function runTask(node: NodeIdentity, layout: NodeLayout, dirs: TaskDirs, spec: TaskRunSpec): TaskRun {
  let running: RunningProcess | undefined;
  let killed = false;
  const start = new Date();
  const ended = (r: Omit<TaskRunResult, 'startTime' | 'endTime' | 'preProcessingError' | 'fileUploadError'> & Partial<TaskRunResult>): TaskRunResult => ({
    startTime: start.toISOString(),
    endTime: new Date().toISOString(),
    preProcessingError: false,
    fileUploadError: false,
    ...r,
  });
  let taskUser: RunAs | undefined;
  const run = async (): Promise<TaskRunResult> => {
    const user = (taskUser = userFor(node, layout.rootDir, spec));
    // The task's user owns what the agent makes for it, set on each new descriptor (fchown).
    const owner: Owner | undefined = user.uid !== undefined ? { uid: user.uid, gid: user.gid ?? user.uid } : undefined;
    const taskDir = prepareTaskDir(dirs, owner);
    let launched: TaskRunResult | { child: RunningProcess; argv: string[] };
    try {
      launched = await launch(taskDir, user, owner);
    } finally {
      taskDir.close(); // not held while the task runs
    }
    return 'child' in launched ? finish(launched.child, launched.argv) : launched;
  };
  /** Resource files, then the process: a failure before it runs, or the running process. */
  const launch = async (taskDir: PinnedDir, user: RunAs, owner: Owner | undefined): Promise<TaskRunResult | { child: RunningProcess; argv: string[] }> => {
    try {
      for (const file of spec.resourceFiles) await downloadResourceFile(file, dirs.workingDir, owner);
    } catch (err) {
      return ended({ result: 'failure', failureInfo: downloadFailure(err), preProcessingError: true });
    }
    let argv: string[];
    try {
      argv = splitCommandLine(spec.commandLine);
    } catch (err) {
      if (!(err instanceof CommandLineError)) throw err;
      return ended({ result: 'failure', failureInfo: failure('CommandLaunchFailed', `The command line could not be parsed: ${err.message}`), preProcessingError: true });
    }
    if (killed) return ended({ result: 'failure', failureInfo: failure('TaskEnded', 'The task was stopped before it started.') });
    const env = taskEnvironment(
      node,
      layout,
      dirs,
      { jobId: spec.jobId, taskId: spec.taskId, userName: user.userName, userIdentity: spec.userIdentity, jobPreparation: spec.jobPreparation },
      spec.environmentSettings,
    );
    const stdout = createOutputFile(taskDir, dirs.stdoutFile, owner);
    try {
      const stderr = createOutputFile(taskDir, dirs.stderrFile, owner);
      try {
        running = await runProcess({
          argv,
          cwd: dirs.workingDir,
          env,
          stdout,
          stderr,
          uid: user.uid,
          gid: user.gid,
          groups: user.groups,
          maxWallClockMs: spec.maxWallClockMs,
          nodeRoot: layout.rootDir,
          uidIsTheRunsOwn: user.perRun,
        });
        // Stopped while it was being started: it goes at once.
        if (killed) running.kill();
        return { child: running, argv };
      } catch (err) {
        return ended({ result: 'failure', failureInfo: launchFailure(argv[0] ?? '', err), preProcessingError: true });
      } finally {
        fs.closeSync(stderr);
      }
    } finally {
      fs.closeSync(stdout);
    }
  };
  const finish = async (child: RunningProcess, argv: string[]): Promise<TaskRunResult> => {
    const outcome = await child.done;
    let result: TaskRunResult;
    if (outcome.launchError) {
      const notFound = (outcome.launchError as NodeJS.ErrnoException).code === 'ENOENT';
      result = ended({
        result: 'failure',
        failureInfo: failure(notFound ? 'CommandProgramNotFound' : 'CommandLaunchFailed', `The program "${argv[0]}" could not be started: ${outcome.launchError.message}`),
        preProcessingError: true,
      });
    } else if (outcome.timedOut) {
      result = ended({ result: 'failure', failureInfo: failure('MaxWallClockTimeExceeded', 'The task ran longer than its maxWallClockTime and was killed.') });
    } else if (outcome.exitCode === undefined) {
      result = ended({ result: 'failure', failureInfo: failure('TaskEnded', `The task process was killed by ${outcome.signal ?? 'a signal'}.`) });
    } else if (outcome.exitCode !== 0) {
      result = ended({
        exitCode: outcome.exitCode,
        result: 'failure',
        failureInfo: failure('FailureExitCode', 'The task process exited with an unexpected exit code', [
          { name: 'Message', value: `The task exited with an exit code representing a failure` },
        ]),
      });
    } else {
      result = ended({ exitCode: 0, result: 'success' });
    }
    const uploadFailures = await uploadOutputFiles(spec.outputFiles, dirs, result.result === 'success');
    if (uploadFailures.length > 0) {
      return {
        ...result,
        endTime: new Date().toISOString(),
        result: 'failure',
        fileUploadError: true,
        failureInfo: failure(
          'FileUploadMiscError',
          'One or more output files could not be uploaded.',
          uploadFailures.map((f) => ({ name: f.filePattern, value: f.message })),
        ),
      };
    }
    return result;
  };
  const done = run()
    .catch((err: unknown) => ended({ result: 'failure', failureInfo: preparationFailure(err), preProcessingError: true }))
    // A task-scope user goes with its run (its processes are gone: runProcess waits for that).
    .finally(() => taskUser?.release?.());
  return {
    done,
    kill() {
      killed = true;
      running?.kill();
    },
  };
}
