/**
 * The internal protocol between the Batch service and its node agents, on the Batch port under
 * /kiln-agent/v1. It is not part of Azure's API: agents join a pool with the pool's join token, then
 * hold one command stream open (GET /nodes/{node}/commands: newline-delimited JSON, each line a list
 * of commands, pushed the moment the scheduler places work) and post reports in batches. An open
 * stream is the node's heartbeat: when it closes and stays closed, the node is lost.
 */
import type { TaskRunResult, TaskRunSpec } from '../../agent/runTask.js';
import type { FileEntry, FileRoot } from '../../domain/batch/nodeFiles.js';

export type { FileEntry, FileRoot };

export const AGENT_PREFIX = '/kiln-agent/v1';

export interface JoinRequest {
  /**
   * Absent on a first join: the server picks the node's id. A rejoin (after a reboot, or when the
   * server lost or forgot the node) presents the node token of its current session, and a local
   * node the token kiln up gave it: that proves it is that node, of this pool, and nothing else does.
   */
  nodeToken?: string;
  hostname: string;
  isDedicated: boolean;
  /** Whether the agent runs as root and so can run non-admin tasks as another user. */
  canSeparateUsers: boolean;
}

export interface JoinResponse {
  nodeId: string;
  /** Bearer token for every later call of this node, valid for this session only (auth/agentTokens.ts). */
  nodeToken: string;
  accountName: string;
  /** The Batch account URL tasks see in AZ_BATCH_ACCOUNT_URL. */
  accountUrl: string;
  /** The command stream carries an empty line at least this often; silence longer means it died. */
  heartbeatMs: number;
  /** An agent that has not reached the server for this long stops its runs: the server is about to requeue them. */
  cutOffMs: number;
}

/** A unit of work; `runId` names one attempt, so a report for an attempt the server gave up on is ignored. */
export interface TaskCommand extends Omit<TaskRunSpec, 'jobPreparation'> {
  type: 'runTask';
  runId: string;
  kind: 'starttask' | 'jobpreparation' | 'jobrelease' | 'task';
}

export interface KillCommand {
  type: 'killTask';
  runId: string;
}

/** Reboot and reimage restart the node's agent; reimage also wipes its directories. */
export interface NodeCommand {
  type: 'reboot' | 'reimage' | 'leave';
}

/** Remove the directories of a task whose retention time has passed, or of a deleted job. */
export interface CleanupCommand {
  type: 'removeTaskDirs';
  jobId: string;
  taskId?: string;
}

/**
 * A request for the node's files (the task and node file APIs). The agent answers by posting to
 * /nodes/{node}/files/{requestId}: a FileResult in the x-kiln-file-result header, and for `read` the
 * bytes as the body.
 */
export interface FileCommand {
  type: 'files';
  requestId: string;
  op: 'list' | 'stat' | 'read' | 'delete';
  root: FileRoot;
  path: string;
  recursive?: boolean;
  /** For read: inclusive byte range. */
  range?: { start: number; end?: number };
}

export type FileResult =
  | { ok: true; entries?: FileEntry[]; stat?: FileEntry; range?: { start: number; end: number } }
  // forbidden: a directory the node needs (its root, shared, startup, workitems) is not deleted.
  | { ok: false; error: 'notfound' | 'invalidrange' | 'notempty' | 'forbidden' | 'failed'; message: string };

export const FILE_RESULT_HEADER = 'x-kiln-file-result';

export type AgentCommand = TaskCommand | KillCommand | NodeCommand | CleanupCommand | FileCommand;

export interface AgentReport {
  type: 'completed';
  runId: string;
  result: TaskRunResult;
}

export interface ReportsRequest {
  reports: AgentReport[];
  /** With heartbeats: the runs the agent has, so that work lost on the way is noticed. */
  running?: string[];
}

export interface ReportsResponse {
  /**
   * Reports that changed nothing: runs this session does not hold (requeued, ended, given to
   * another node or session). Normal for a run the server gave up on; the agent has nothing to do.
   */
  refused: string[];
}
