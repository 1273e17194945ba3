import type { Db } from '../sqlite/database.js';
import type { ComputeNode } from '../../domain/batch/models.js';
import { EntityTable } from './entityTable.js';

/** batch_nodes: a pool's compute nodes, written by the node agent (next issue), read by the API. */
export class NodeTable extends EntityTable<ComputeNode> {
  private readonly countQ;
  private readonly statesQ;

  constructor(db: Db) {
    super(db, { table: 'batch_nodes', parent: 'pool_pk', hasPk: false });
    this.countQ = db.prepare(`SELECT count(*) FROM batch_nodes WHERE pool_pk = ?`).pluck();
    this.statesQ = db.prepare(`SELECT state, json_extract(doc, '$.isDedicated') AS dedicated, count(*) AS n FROM batch_nodes WHERE pool_pk = ? GROUP BY 1, 2`);
  }

  count(poolPk: number): number {
    return this.countQ.get(poolPk) as number;
  }

  /** Node counts by state and dedicated/low-priority, for /nodecounts. */
  countByState(poolPk: number): { state: string; dedicated: number; n: number }[] {
    return this.statesQ.all(poolPk) as { state: string; dedicated: number; n: number }[];
  }
}
