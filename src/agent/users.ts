import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface RunAs {
  uid?: number;
  gid?: number;
  userName: string;
}

/** The pool-wide non-admin auto-user Azure Batch runs tasks as. */
export const TASK_USER = '_azbatch';

const isRoot = (): boolean => process.getuid?.() === 0;

function lookupUser(name: string): RunAs | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid, userName: name };
  } catch {
    return undefined;
  }
}

let taskUser: RunAs | undefined;

/**
 * Who a task runs as. As root: admin tasks as root, the others as the unprivileged `_azbatch`
 * (created on first use). As any other user Kiln cannot switch users, so both run as that user,
 * and `canSeparateUsers` says so.
 */
let self: RunAs | undefined;

export function userFor(elevated: boolean): RunAs {
  if (!isRoot()) return (self ??= { userName: os.userInfo().username });
  if (elevated) return { uid: 0, gid: 0, userName: 'root' };
  taskUser ??= lookupUser(TASK_USER) ?? createTaskUser();
  return taskUser;
}

export const canSeparateUsers = isRoot;

function createTaskUser(): RunAs {
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', '--user-group', TASK_USER], { stdio: 'ignore' });
  const user = lookupUser(TASK_USER);
  if (!user) throw new Error(`could not create the task user ${TASK_USER}`);
  return user;
}
