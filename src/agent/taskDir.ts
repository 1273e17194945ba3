import fs from 'node:fs';
import path from 'node:path';
import { PinnedDir, type Owner } from './fs/pinnedDir.js';
import type { TaskDirs } from './layout.js';

/**
 * Makes a task's directory, or takes it again for a retry. The directory itself is the agent's
 * (root's, 0755): the task cannot rename, replace or plant anything in it, so stdout.txt, stderr.txt
 * and wd stay what the agent made them. What is in it is the task user's, as Azure documents ("all
 * files and directories of a task are owned by the task user"), and wd persists across retries, as
 * on Azure. Returns the task directory held open; the caller closes it.
 */
export function prepareTaskDir(dirs: TaskDirs, owner: Owner | undefined): PinnedDir {
  const taskDir = PinnedDir.open(dirs.taskDir, { create: true });
  try {
    reclaim(taskDir);
    const wd = taskDir.dir(path.basename(dirs.workingDir), { owner });
    try {
      if (owner && wd.stat().uid !== owner.uid) fs.fchownSync(wd.fd, owner.uid, owner.gid);
    } finally {
      wd.close();
    }
    return taskDir;
  } catch (err) {
    taskDir.close();
    throw err;
  }
}

/** A task directory an older Kiln left to the task's user is made the agent's again. */
function reclaim(dir: PinnedDir): void {
  if (process.getuid?.() !== 0) return;
  const st = dir.stat();
  if (st.uid !== 0 || st.gid !== 0) fs.fchownSync(dir.fd, 0, 0);
  if ((st.mode & 0o7022) !== 0) fs.fchmodSync(dir.fd, 0o755);
}

/**
 * stdout.txt or stderr.txt, created afresh for this attempt and owned by the task's user; whatever
 * had that name is removed first without following it (see PinnedDir.createFile).
 */
export const createOutputFile = (taskDir: PinnedDir, file: string, owner: Owner | undefined): number => taskDir.createFile(path.basename(file), owner);
