import type { CloudJob, CloudJobSchedule, CloudPool, CloudTask, ComputeNode, EntityDoc, Stored, StoredJob, TaskState } from './models.js';
import type { ListQuery, RawRow } from './listQuery.js';

/**
 * The Batch service's store, as the domain needs it: one table per entity, each call asynchronous so
 * that a store may live in another process (PostgreSQL) as well as in this one (SQLite).
 *
 * A unit of work (`tx`) groups reads and writes that must happen whole or not at all: every call made
 * while `fn` runs, however deep, belongs to it (the store follows the asynchronous context, so the
 * domain's helpers need no transaction argument). Nested `tx` calls join the outer one. What must only
 * happen once the change is committed (hooks that act on it) is given to `afterCommit`.
 */
export interface BatchStore {
  readonly pools: PoolTable;
  readonly nodes: NodeTable;
  readonly jobs: JobTable;
  readonly tasks: TaskTable;
  readonly jobSchedules: EntityTable<CloudJobSchedule>;
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` once the unit of work in progress commits (soon, when none is); never if it rolls back. */
  afterCommit(fn: () => void): void;
}

/** Top-level entities are scoped by account; children by their parent's row key. */
export type Parent = string | number;

/** Lists' rows and queries (a condition tree over indexed columns, which each store compiles): listQuery.ts. */
export type { ListQuery, RawRow };

/** What every entity table does. Ids are unique case-insensitively within their parent. */
export interface EntityTable<T extends EntityDoc> {
  get(parent: Parent, id: string): Promise<Stored<T> | undefined>;
  exists(parent: Parent, id: string): Promise<boolean>;
  /** Inserts a new entity; returns its row key (0 for tables without one). */
  insert(parent: Parent, doc: T): Promise<number>;
  update(parent: Parent, doc: T): Promise<void>;
  delete(parent: Parent, id: string): Promise<void>;
  /** One page in id order, past `afterKey`, the rows' JSON unparsed. */
  list(parent: Parent, query: ListQuery): Promise<RawRow[]>;
}

export interface PoolTable extends EntityTable<CloudPool> {
  getByPk(pk: number): Promise<Stored<CloudPool> | undefined>;
  /** Every pool of an account (node counts and usage cover all of them). */
  all(account: string): Promise<Stored<CloudPool>[]>;
}

export interface NodeTable extends EntityTable<ComputeNode> {
  count(poolPk: number): Promise<number>;
  /** Node counts by state and dedicated (1) or low-priority (0), for /nodecounts. */
  countByState(poolPk: number): Promise<{ state: string; dedicated: number; n: number }[]>;
}

export interface JobTable extends EntityTable<CloudJob> {
  get(account: Parent, id: string): Promise<StoredJob | undefined>;
  getByPk(pk: number): Promise<StoredJob | undefined>;
  /** The account's job of that uid, if it still exists. */
  getByUid(account: string, uid: string): Promise<StoredJob | undefined>;
  /** Removes a job and its tasks. */
  deleteByPk(pk: number): Promise<void>;
  /** Unfinished jobs with a maxWallClockTime constraint (the clock that ends them). */
  timeLimited(account: string): Promise<StoredJob[]>;
  /** The jobs that run on a pool (the scheduler's view of a pool). */
  onPool(account: string, poolId: string): Promise<StoredJob[]>;
}

export interface TaskCounts {
  active: number;
  running: number;
  completed: number;
  succeeded: number;
  failed: number;
}

/** A task as dependency checks read it: state, result and the document, unparsed. */
export interface DependencyRow {
  state: TaskState;
  result: string | null;
  doc: string;
}

export interface TaskTable extends EntityTable<CloudTask> {
  /** Task counts and slot counts, as GET /jobs/{id}/taskcounts reports them. */
  counts(jobPk: number): Promise<{ taskCounts: TaskCounts; taskSlotCounts: TaskCounts }>;
  /** Whether any task of the job is still to finish (active, preparing or running). */
  hasUnfinished(jobPk: number): Promise<boolean>;
  /** The job's tasks in the given states, parsed (for transitions that touch many tasks). */
  inStates(jobPk: number, states: TaskState[]): Promise<CloudTask[]>;
  /** The scheduler's queue: a job's active tasks in id order, past `afterKey`. */
  active(jobPk: number, afterKey: string, limit: number): Promise<{ key: string; doc: CloudTask }[]>;
  /** The job's tasks among `ids` (any case), documents unparsed: what a task's dependency list names. */
  withIds(jobPk: number, ids: string[]): Promise<(DependencyRow & { key: string })[]>;
  /** The job's tasks whose id is an integer in [start, end], by that number: cost grows with the tasks, not the range. */
  withNumberIdsIn(jobPk: number, start: number, end: number): Promise<(DependencyRow & { n: number })[]>;
  /** Inserts many tasks at once. */
  addAll(jobPk: number, docs: CloudTask[]): Promise<void>;
}
