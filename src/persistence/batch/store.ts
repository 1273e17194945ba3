import type { BatchStore } from '../../domain/batch/store.js';
import type { Db } from '../sqlite/database.js';
import { JobScheduleTable } from './jobSchedules.js';
import { JobTable } from './jobs.js';
import { NodeTable } from './nodes.js';
import { PoolTable } from './pools.js';
import { TaskTable } from './tasks.js';
import { UnitOfWork } from './unitOfWork.js';

/** The methods of a synchronous table, each returning a promise of what it returned. */
type Async<T, K extends keyof T> = { [N in K]: T[N] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never };

const ENTITY_METHODS = ['get', 'exists', 'insert', 'update', 'delete', 'list'] as const;

/**
 * The Batch store on Kiln's embedded SQLite database: one table module per entity, their synchronous
 * statements behind the domain's asynchronous port. A unit of work is one SQLite transaction; once the
 * request is answered it survives a kill -9 (WAL, see persistence/sqlite/database.ts).
 */
export function sqliteBatchStore(db: Db): BatchStore {
  const work = new UnitOfWork(db);
  function asynchronous<T extends object, K extends keyof T>(table: T, names: readonly K[]): Async<T, K> {
    const port = {} as Record<K, unknown>;
    for (const name of names) {
      const method = table[name] as (...args: unknown[]) => unknown;
      port[name] = (...args: unknown[]) => work.call(() => method.apply(table, args));
    }
    return port as Async<T, K>;
  }
  return {
    pools: asynchronous(new PoolTable(db), [...ENTITY_METHODS, 'getByPk', 'all']),
    nodes: asynchronous(new NodeTable(db), [...ENTITY_METHODS, 'count', 'countByState']),
    jobs: asynchronous(new JobTable(db), [...ENTITY_METHODS, 'getByPk', 'getByUid', 'deleteByPk', 'timeLimited', 'onPool']),
    tasks: asynchronous(new TaskTable(db), [...ENTITY_METHODS, 'counts', 'hasUnfinished', 'inStates', 'active', 'withIds', 'withNumberIdsIn', 'addAll']),
    jobSchedules: asynchronous(new JobScheduleTable(db), ENTITY_METHODS),
    tx: (fn) => work.tx(fn),
    afterCommit: (fn) => work.afterCommit(fn),
  };
}
