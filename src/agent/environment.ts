import type { NodeLayout, TaskDirs } from './layout.js';

export interface NodeIdentity {
  accountName: string;
  /** The Batch account URL, with the trailing slash Azure's nodes show. */
  accountUrl: string;
  poolId: string;
  nodeId: string;
  isDedicated: boolean;
}

export interface TaskIdentity {
  jobId?: string;
  taskId?: string;
  /** `_azbatch`, `root`, or the agent's own user when it cannot switch users. */
  userName: string;
  /** PoolNonAdmin, PoolAdmin, TaskNonAdmin, TaskAdmin. */
  userIdentity: string;
  jobPreparation?: TaskDirs;
}

/**
 * The search path of a fresh Ubuntu node (its /etc/environment): a task's PATH starts from it,
 * never from the agent's, which is the server's or whoever started it.
 */
export const NODE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment every task process gets, and nothing of the agent's own: the AZ_BATCH_*
 * variables, the user's HOME/USER/PWD and the node's PATH, then the task's settings.
 */
export function taskEnvironment(
  node: NodeIdentity,
  layout: NodeLayout,
  dirs: TaskDirs,
  task: TaskIdentity,
  userSettings: { name: string; value?: string }[],
): Record<string, string> {
  const env: Record<string, string> = {
    AZ_BATCH_ACCOUNT_NAME: node.accountName,
    AZ_BATCH_ACCOUNT_URL: node.accountUrl,
    AZ_BATCH_POOL_ID: node.poolId,
    AZ_BATCH_NODE_ID: node.nodeId,
    AZ_BATCH_NODE_IS_DEDICATED: String(node.isDedicated),
    AZ_BATCH_NODE_ROOT_DIR: layout.rootDir,
    AZ_BATCH_NODE_SHARED_DIR: layout.sharedDir,
    AZ_BATCH_NODE_STARTUP_DIR: layout.startupDir,
    AZ_BATCH_NODE_MOUNTS_DIR: layout.mountsDir,
    AZ_BATCH_TASK_DIR: dirs.taskDir,
    AZ_BATCH_TASK_WORKING_DIR: dirs.workingDir,
    AZ_BATCH_CERTIFICATES_DIR: `${dirs.taskDir}/certs`,
    AZ_BATCH_TASK_USER: task.userName,
    AZ_BATCH_TASK_USER_IDENTITY: task.userIdentity,
    HOME: dirs.workingDir,
    PWD: dirs.workingDir,
    USER: task.userName,
    PATH: `${NODE_PATH}:${layout.sharedDir}:${dirs.workingDir}`,
  };
  if (task.jobId !== undefined) env.AZ_BATCH_JOB_ID = task.jobId;
  if (task.taskId !== undefined) env.AZ_BATCH_TASK_ID = task.taskId;
  if (task.jobPreparation) {
    env.AZ_BATCH_JOB_PREP_DIR = task.jobPreparation.taskDir;
    env.AZ_BATCH_JOB_PREP_WORKING_DIR = task.jobPreparation.workingDir;
  }
  for (const { name, value } of userSettings) env[name] = value ?? '';
  return env;
}
