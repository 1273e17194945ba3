import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BatchContext, BatchHooks } from '../../src/domain/batch/context.js';
import type { CloudJob, CloudPool, CloudTask, ComputeNode } from '../../src/domain/batch/models.js';
import { countPoolNodes, newNodeDoc, nodeJoined } from '../../src/domain/batch/nodes/lifecycle.js';
import { addPool } from '../../src/domain/batch/pools/addPool.js';
import type { Json } from '../../src/domain/batch/schema/validate.js';
import type { BatchStore } from '../../src/domain/batch/store.js';
import { sqliteBatchStore } from '../../src/persistence/batch/store.js';
import { migrations } from '../../src/persistence/migrations.js';
import { openDatabase, type Db } from '../../src/persistence/sqlite/database.js';

/**
 * The unit tier's fixture: Kiln's own Batch store (SQLite, migrated, in a temporary directory: never
 * a mock) and the domain called in-process on a clock the test sets. No server, no agent, no process.
 */
export const T0 = Date.parse('2030-03-01T10:00:00.000Z');
export const SEC = 1000;
export const MIN = 60 * SEC;
export const iso = (ms: number): string => new Date(T0 + ms).toISOString();

export const VM = { imageReference: { publisher: 'canonical', offer: 'ubuntu', sku: '22_04-lts' }, nodeAgentSKUId: 'batch.node.ubuntu 22.04' };

/** A hook call the domain made, as [hook, entity id]. */
export type HookCall = [keyof BatchHooks, string];

export interface UnitBatch {
  store: BatchStore;
  /** The clock, in ms since T0: every ctx() made after `at(ms)` reads that time. */
  at(ms: number): void;
  ctx(): BatchContext;
  /** The hooks the domain called, in order (afterCommit hooks only after `settle()`). */
  hooks: HookCall[];
  pool(id: string): Promise<{ pk: number; doc: CloudPool }>;
  nodes(poolId: string): Promise<ComputeNode[]>;
  job(id: string): Promise<{ pk: number; doc: CloudJob }>;
  task(jobId: string, taskId: string): Promise<CloudTask>;
  /** A pool with `nodes` joined, idle nodes (dedicated unless `lowPriority`). */
  poolWithNodes(id: string, nodes: number, spec?: Record<string, Json>, opts?: { lowPriority?: boolean }): Promise<ComputeNode[]>;
  close(): void;
}

/** Lets the hooks the domain queued after a commit (queueMicrotask) run: no timer, just the queue. */
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

let nodeSeq = 0;

export function unitBatch(account = 'unit'): UnitBatch {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-unit-'));
  const db: Db = openDatabase(dir, migrations);
  const store = sqliteBatchStore(db);
  let clock = T0;
  const hooks: HookCall[] = [];
  const record = (name: keyof BatchHooks) => (_account: string, entity: { id: string }) => hooks.push([name, entity.id]);
  const batchHooks: BatchHooks = {
    taskEnded: (a, _job, task) => record('taskEnded')(a, task),
    jobEnded: record('jobEnded'),
    jobFinished: record('jobFinished'),
    poolDeleting: record('poolDeleting'),
    nodeChanged: (a, _pool, node) => record('nodeChanged')(a, node),
  };
  const ctx = (): BatchContext => ({ store, account, now: new Date(clock), hooks: batchHooks });
  const pool = async (id: string) => {
    const found = await store.pools.get(account, id);
    if (!found) throw new Error(`no pool ${id}`);
    return found;
  };
  const job = async (id: string) => {
    const found = await store.jobs.get(account, id);
    if (!found) throw new Error(`no job ${id}`);
    return found;
  };
  const nodes = async (poolId: string) => (await store.nodes.list((await pool(poolId)).pk, { limit: 1000 })).map((r) => JSON.parse(r.doc) as ComputeNode);
  return {
    store,
    at: (ms) => {
      clock = T0 + ms;
    },
    ctx,
    hooks,
    pool,
    nodes,
    job,
    task: async (jobId, taskId) => {
      const found = await store.tasks.get((await job(jobId)).pk, taskId);
      if (!found) throw new Error(`no task ${taskId}`);
      return found.doc;
    },
    poolWithNodes: async (id, count, spec = {}, opts = {}) => {
      const dedicated = !opts.lowPriority;
      await addPool(ctx(), { id, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM, [dedicated ? 'targetDedicatedNodes' : 'targetLowPriorityNodes']: count, ...spec });
      const made: ComputeNode[] = [];
      await store.tx(async () => {
        const { pk, doc } = await pool(id);
        for (let i = 0; i < count; i++) {
          const node = newNodeDoc(ctx(), doc, `tvm-unit_${++nodeSeq}`, dedicated);
          await store.nodes.insert(pk, node);
          await nodeJoined(ctx(), pk, doc, node);
          made.push(node);
        }
        await countPoolNodes(ctx(), pk, doc);
      });
      return made;
    },
    close: () => {
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** What a BatchError (or StorageError) says: its status and code. */
export const refusal = (status: number, code: string) => (err: unknown) => {
  const e = err as { status?: number; code?: string };
  if (e.status === status && e.code === code) return true;
  throw new Error(`expected ${status} ${code}, got ${e.status} ${e.code}: ${(err as Error).message}`);
};

/** The value of a BatchError's detail (PropertyName, Reason...). */
export const detail = (err: unknown, name: string): string | undefined => (err as { values?: [string, string][] }).values?.find(([n]) => n === name)?.[1];

/** Runs `fn`, which must throw, and returns what it threw. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal, but the call succeeded');
}

/** The error an asynchronous call is refused with. */
export async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal, but the call succeeded');
}
