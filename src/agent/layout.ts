import fs from 'node:fs';
import path from 'node:path';
import { isScheduledJobId, jobRemovalDirs, jobWorkDir } from '../domain/batch/jobSchedules/jobIds.js';

const SAFE_ID = /^[A-Za-z0-9_-]{1,64}$/;

function safeId(kind: string, id: string): string {
  // Ids are validated by the Batch API already; this keeps a bad one from ever leaving the node root.
  if (!SAFE_ID.test(id)) throw new Error(`${kind} id "${id}" cannot name a directory`);
  return id;
}

export interface TaskDirs {
  /** AZ_BATCH_TASK_DIR: holds stdout.txt, stderr.txt, wd/ and certs/. */
  taskDir: string;
  /** AZ_BATCH_TASK_WORKING_DIR. */
  workingDir: string;
  stdoutFile: string;
  stderrFile: string;
}

/** A compute node's directory tree, as Azure Batch lays it out under AZ_BATCH_NODE_ROOT_DIR. */
export class NodeLayout {
  readonly sharedDir: string;
  readonly startupDir: string;
  readonly mountsDir: string;

  constructor(readonly rootDir: string) {
    this.sharedDir = path.join(rootDir, 'shared');
    this.startupDir = path.join(rootDir, 'startup');
    this.mountsDir = path.join(rootDir, 'fsmounts');
  }

  /** Creates the node-wide directories. */
  prepare(): void {
    for (const dir of [this.sharedDir, this.startupDir, this.mountsDir, path.join(this.rootDir, 'workitems')]) {
      // The agent's own, not the tasks': no task may rename or plant anything in them (shared aside).
      fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    }
    // Every task of every user on the node may read and write the shared directory.
    fs.chmodSync(this.sharedDir, 0o1777);
  }

  startTask(): TaskDirs {
    return dirsOf(this.startupDir);
  }

  /** Azure's: workitems/<jobId>/job-1, and for a schedule's job workitems/<scheduleId>/job-<n>. */
  jobDir(jobId: string): string {
    return path.join(this.rootDir, jobWorkDir(isScheduledJobId(jobId) ? jobId : safeId('job', jobId)));
  }

  /** What removing a deleted job takes (jobRemovalDirs): its own directory, and its schedule's once empty. */
  jobRemoval(jobId: string): { jobDir: string; scheduleDir?: string } {
    const dirs = jobRemovalDirs(isScheduledJobId(jobId) ? jobId : safeId('job', jobId));
    return { jobDir: path.join(this.rootDir, dirs.jobDir), ...(dirs.scheduleDir ? { scheduleDir: path.join(this.rootDir, dirs.scheduleDir) } : {}) };
  }

  task(jobId: string, taskId: string): TaskDirs {
    return dirsOf(path.join(this.jobDir(jobId), safeId('task', taskId)));
  }

  /** The job preparation and release tasks have fixed names beside the job's tasks. */
  jobPreparation(jobId: string): TaskDirs {
    return dirsOf(path.join(this.jobDir(jobId), 'jobpreparation'));
  }

  jobRelease(jobId: string): TaskDirs {
    return dirsOf(path.join(this.jobDir(jobId), 'jobrelease'));
  }
}

function dirsOf(taskDir: string): TaskDirs {
  return {
    taskDir,
    workingDir: path.join(taskDir, 'wd'),
    stdoutFile: path.join(taskDir, 'stdout.txt'),
    stderrFile: path.join(taskDir, 'stderr.txt'),
  };
}
