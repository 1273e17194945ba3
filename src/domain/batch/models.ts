/**
 * The Batch entities as Kiln stores them: each is its wire document (the JSON the API returns, less
 * the host-dependent `url`), typed here for the fields the service reads and writes; every other
 * property a client gave is kept as given (after validation) and returned unchanged.
 */
export interface EntityDoc {
  id: string;
  state: string;
  eTag: string;
  lastModified: string;
  creationTime: string;
  stateTransitionTime: string;
  previousState?: string;
  previousStateTransitionTime?: string;
  [property: string]: unknown;
}

export type PoolState = 'active' | 'deleting';
export type AllocationState = 'steady' | 'resizing' | 'stopping';

/** One stored entity: its row key in the store and its wire document. */
export interface Stored<T extends EntityDoc> {
  pk: number;
  doc: T;
}

/**
 * A stored job, with its uid: made by the store when the job is, never given to another job (ids
 * and row keys may be reused once a job is deleted). What leaves the server names a job by it (the
 * run ids agents report on), so that nothing meant for a deleted job reaches a new one of its id.
 */
export interface StoredJob extends Stored<CloudJob> {
  uid: string;
}

export interface CloudPool extends EntityDoc {
  state: PoolState;
  vmSize: string;
  allocationState: AllocationState;
  allocationStateTransitionTime: string;
  targetDedicatedNodes?: number;
  targetLowPriorityNodes?: number;
  currentDedicatedNodes: number;
  currentLowPriorityNodes: number;
  enableAutoScale: boolean;
  autoScaleFormula?: string;
  autoScaleEvaluationInterval?: string;
  resizeTimeout?: string;
  taskSlotsPerNode: number;
  resizeErrors?: { code: string; message: string; values?: { name: string; value: string }[] }[];
}

export type NodeState =
  | 'idle'
  | 'rebooting'
  | 'reimaging'
  | 'running'
  | 'unusable'
  | 'creating'
  | 'starting'
  | 'waitingforstarttask'
  | 'starttaskfailed'
  | 'unknown'
  | 'leavingpool'
  | 'offline'
  | 'preempted';

export interface ComputeNode extends EntityDoc {
  state: NodeState;
  schedulingState: 'enabled' | 'disabled';
  isDedicated: boolean;
  vmSize: string;
  runningTasksCount: number;
  runningTaskSlotsCount: number;
  totalTasksRun: number;
  totalTasksSucceeded: number;
}

export type JobState = 'active' | 'disabling' | 'disabled' | 'enabling' | 'terminating' | 'completed' | 'deleting';

export interface JobExecutionInfo {
  startTime: string;
  endTime?: string;
  poolId?: string;
  schedulingError?: unknown;
  terminateReason?: string;
}

export interface CloudJob extends EntityDoc {
  state: JobState;
  priority: number;
  maxParallelTasks: number;
  allowTaskPreemption: boolean;
  usesTaskDependencies: boolean;
  onAllTasksComplete: 'noaction' | 'terminatejob';
  onTaskFailure: 'noaction' | 'performexitoptionsjobaction';
  poolInfo: { poolId?: string; autoPoolSpecification?: Record<string, unknown> };
  constraints?: { maxWallClockTime?: string; maxTaskRetryCount?: number };
  executionInfo: JobExecutionInfo;
  jobManagerTask?: Record<string, unknown>;
  jobPreparationTask?: Record<string, unknown>;
  jobReleaseTask?: Record<string, unknown>;
  metadata?: { name: string; value: string }[];
}

export type TaskState = 'active' | 'preparing' | 'running' | 'completed';

export interface FailureInfo {
  category: 'usererror' | 'servererror';
  code?: string;
  message?: string;
  details?: { name: string; value: string }[];
}

export interface TaskExecutionInfo {
  startTime?: string;
  endTime?: string;
  exitCode?: number;
  failureInfo?: FailureInfo;
  retryCount: number;
  lastRetryTime?: string;
  requeueCount: number;
  lastRequeueTime?: string;
  result?: 'success' | 'failure';
}

export interface ExitOptions {
  jobAction?: 'none' | 'disable' | 'terminate';
  dependencyAction?: 'satisfy' | 'block';
}

export interface ExitConditions {
  exitCodes?: { code: number; exitOptions: ExitOptions }[];
  exitCodeRanges?: { start: number; end: number; exitOptions: ExitOptions }[];
  preProcessingError?: ExitOptions;
  fileUploadError?: ExitOptions;
  default?: ExitOptions;
}

export interface NodeInfo {
  affinityId?: string;
  nodeUrl?: string;
  poolId?: string;
  nodeId?: string;
  taskRootDirectory?: string;
  taskRootDirectoryUrl?: string;
}

export interface CloudTask extends EntityDoc {
  state: TaskState;
  commandLine: string;
  constraints: { maxWallClockTime: string; retentionTime: string; maxTaskRetryCount: number };
  requiredSlots: number;
  executionInfo: TaskExecutionInfo;
  exitConditions?: ExitConditions;
  nodeInfo?: NodeInfo;
  multiInstanceSettings?: { numberOfInstances?: number; coordinationCommandLine?: string };
  dependsOn?: { taskIds?: string[]; taskIdRanges?: { start: number; end: number }[] };
}

export type JobScheduleState = 'active' | 'completed' | 'disabled' | 'terminating' | 'deleting';

export interface CloudJobSchedule extends EntityDoc {
  state: JobScheduleState;
  schedule: { doNotRunUntil?: string; doNotRunAfter?: string; startWindow?: string; recurrenceInterval?: string };
  jobSpecification: Record<string, unknown>;
  executionInfo: { nextRunTime?: string; recentJob?: { id: string; url?: string }; endTime?: string };
}

/** Sets a document's ETag and Last-Modified: every change of an entity goes through here. */
let etagSeq = 0;
export function touch(doc: EntityDoc, now: Date): void {
  // Azure's ETags are 0x + hex of .NET ticks; ours are hex of the time and a counter, unique per change.
  // (Hex of the milliseconds then of a 16-bit counter: no BigInt, which costs microseconds a task.)
  etagSeq = (etagSeq + 1) & 0xffff;
  doc.eTag = `0x8D${now.getTime().toString(16).toUpperCase()}${etagSeq.toString(16).toUpperCase().padStart(4, '0')}`;
  doc.lastModified = now.toISOString();
}

/** Moves a document to a new state, keeping where it came from (previousState/-TransitionTime). */
export function transition<S extends string>(doc: EntityDoc & { state: S }, to: S, now: Date): void {
  if (doc.state === to) return;
  doc.previousState = doc.state;
  doc.previousStateTransitionTime = doc.stateTransitionTime;
  doc.state = to;
  doc.stateTransitionTime = now.toISOString();
}
