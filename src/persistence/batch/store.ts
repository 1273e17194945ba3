import type { Db } from '../sqlite/database.js';
import { JobScheduleTable } from './jobSchedules.js';
import { JobTable } from './jobs.js';
import { NodeTable } from './nodes.js';
import { PoolTable } from './pools.js';
import { TaskTable } from './tasks.js';

/**
 * The Batch service's store: one table module per entity, sharing Kiln's one SQLite database.
 * `tx` runs a state change as one transaction: it commits whole or not at all, and once the
 * request is answered it survives a kill -9 (WAL, see persistence/sqlite/database.ts).
 */
export class BatchStore {
  readonly pools: PoolTable;
  readonly nodes: NodeTable;
  readonly jobs: JobTable;
  readonly tasks: TaskTable;
  readonly jobSchedules: JobScheduleTable;

  constructor(private readonly db: Db) {
    this.pools = new PoolTable(db);
    this.nodes = new NodeTable(db);
    this.jobs = new JobTable(db);
    this.tasks = new TaskTable(db);
    this.jobSchedules = new JobScheduleTable(db);
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
