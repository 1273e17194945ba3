import fs from 'node:fs';
import path from 'node:path';
import { CommandLineError, splitCommandLine } from './exec/commandLine.js';
import { runProcess, type RunningProcess } from './exec/runProcess.js';
import { taskEnvironment, type NodeIdentity } from './environment.js';
import type { NodeLayout, TaskDirs } from './layout.js';
import { uploadOutputFiles, type OutputFileSpec } from './outputFiles.js';
import { downloadResourceFile, ResourceFileError, type ResourceFileSource } from './resourceFiles.js';
import { userFor } from './users.js';
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

const failure = (code: string, message: string, details?: FailureInfo['details']): FailureInfo => ({
  category: 'usererror',
  code,
  message,
  ...(details ? { details } : {}),
});

function downloadFailure(err: unknown): FailureInfo {
  const message = err instanceof Error ? err.message : String(err);
  const code = / 404 /.test(message) ? 'BlobNotFound' : / 403 /.test(message) ? 'BlobAccessDenied' : 'BlobDownloadMiscError';
  return failure(code, `A resource file could not be downloaded: ${message}`, err instanceof ResourceFileError && err.source ? [{ name: 'FilePath', value: err.source.split('?')[0] ?? '' }] : undefined);
}

export interface TaskRun {
  done: Promise<TaskRunResult>;
  /** Stops the run: kills its process group if it started. */
  kill(): void;
}

/**
 * Runs one task on this node: its directories, resource files, the process (no shell, in its own
 * process group, as its user, within its wall-clock limit), then its output files.
 */
export function runTask(node: NodeIdentity, layout: NodeLayout, dirs: TaskDirs, spec: TaskRunSpec): TaskRun {
  let running: RunningProcess | undefined;
  let killed = false;
  const done = (async (): Promise<TaskRunResult> => {
    const start = new Date();
    const user = userFor(spec.elevated);
    const ended = (r: Omit<TaskRunResult, 'startTime' | 'endTime' | 'preProcessingError' | 'fileUploadError'> & Partial<TaskRunResult>): TaskRunResult => ({
      startTime: start.toISOString(),
      endTime: new Date().toISOString(),
      preProcessingError: false,
      fileUploadError: false,
      ...r,
    });
    makeTaskDirs(dirs);
    try {
      for (const file of spec.resourceFiles) await downloadResourceFile(file, dirs.workingDir);
    } catch (err) {
      return ended({ result: 'failure', failureInfo: downloadFailure(err), preProcessingError: true });
    }
    if (user.uid !== undefined) {
      // The task's user owns its directories and what was downloaded for it; nothing else to walk.
      fs.chownSync(dirs.taskDir, user.uid, user.gid ?? user.uid);
      if (spec.resourceFiles.length > 0) chownTree(dirs.workingDir, user.uid, user.gid ?? user.uid);
      else fs.chownSync(dirs.workingDir, user.uid, user.gid ?? user.uid);
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
    const stdout = fs.openSync(dirs.stdoutFile, 'w');
    const stderr = fs.openSync(dirs.stderrFile, 'w');
    if (user.uid !== undefined) {
      fs.fchownSync(stdout, user.uid, user.gid ?? user.uid);
      fs.fchownSync(stderr, user.uid, user.gid ?? user.uid);
    }
    try {
      running = runProcess({ argv, cwd: dirs.workingDir, env, stdout, stderr, uid: user.uid, gid: user.gid, maxWallClockMs: spec.maxWallClockMs });
    } finally {
      fs.closeSync(stdout);
      fs.closeSync(stderr);
    }
    const outcome = await running.done;
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
      result = ended({ exitCode: outcome.exitCode, result: 'failure', failureInfo: failure('FailureExitCode', 'The task process exited with an unexpected exit code', [{ name: 'Message', value: `The task exited with an exit code representing a failure` }]) });
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
        failureInfo: failure('FileUploadMiscError', 'One or more output files could not be uploaded.', uploadFailures.map((f) => ({ name: f.filePattern, value: f.message }))),
      };
    }
    return result;
  })();
  return {
    done,
    kill() {
      killed = true;
      running?.kill();
    },
  };
}

const mkdir = (dir: string): void => {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
};

/** The task directory and its wd: two mkdir calls when the job's directory exists, as it mostly does. */
function makeTaskDirs(dirs: TaskDirs): void {
  try {
    mkdir(dirs.taskDir);
  } catch {
    fs.mkdirSync(dirs.taskDir, { recursive: true });
  }
  mkdir(dirs.workingDir);
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(full, uid, gid);
    else fs.chownSync(full, uid, gid);
  }
}
