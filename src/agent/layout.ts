import fs from 'node:fs';
import path from 'node:path';

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
      fs.mkdirSync(dir, { recursive: true });
    }
    // Every task of every user on the node may read and write the shared directory.
    fs.chmodSync(this.sharedDir, 0o1777);
  }

  startTask(): TaskDirs {
    return dirsOf(this.startupDir);
  }

  jobDir(jobId: string): string {
    return path.join(this.rootDir, 'workitems', safeId('job', jobId), 'job-1');
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

/**
 * Kills what a node's tasks left running (its agent died, or the node is being stopped): every
 * process whose environment names this node root, with its process group. Found through /proc, so
 * nothing has to be written down per task while the node runs.
 */
export function killLeftoverTasks(layout: NodeLayout): void {
  const marker = `AZ_BATCH_NODE_ROOT_DIR=${layout.rootDir}\0`;
  const ownGroup = process.pid;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return;
  }
  for (const pid of pids) {
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!environ.startsWith(marker) && !environ.includes(`\0${marker}`)) continue;
      // Field 5 of /proc/PID/stat is the process group; the command name before it may hold spaces.
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      process.kill(pgid > 1 && pgid !== ownGroup ? -pgid : Number(pid), 'SIGKILL');
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
}

/** Resolves a relative path inside `base`, refusing any that would leave it. */
export function inside(base: string, relative: string): string {
  const resolved = path.resolve(base, relative);
  if (resolved !== base && !resolved.startsWith(base + path.sep)) {
    throw new Error(`the path "${relative}" leaves its directory`);
  }
  return resolved;
}
