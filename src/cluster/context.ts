import type { AccountRegistry } from '../config/accounts.js';
import type { NodeTimings } from '../config/timings.js';
import type { BatchContext, BatchHooks } from '../domain/batch/context.js';
import { onJobEnded } from './nodeEvents.js';
import type { BatchStore } from '../domain/batch/store.js';
import type { CommandContext } from './commands.js';
import { sessionKey, type NodeSession } from './session.js';

/** What the parts of the cluster (agent API, reports, node events, scheduler) share. */
export class ClusterContext {
  readonly sessions = new Map<string, NodeSession>();

  /**
   * Asks for a scheduling pass (the Cluster points it at its scheduler): called by whatever frees
   * or adds capacity outside an API request or an agent's report (a node's tasks requeued by a
   * resize, a task ended), which would otherwise wait for an unrelated event.
   */
  wake: (account: string) => void = () => undefined;

  constructor(
    readonly store: BatchStore,
    readonly accounts: AccountRegistry,
    private readonly blobAccountUrl: (account: string) => string,
    private readonly batchUrl: string,
    readonly log: (message: string) => void,
    readonly timings: NodeTimings,
  ) {}

  /** A node's URL in the Batch API, as tasks' nodeInfo and the job status lists give it. */
  nodeUrl(poolId: string, nodeId: string): string {
    return `${this.batchUrl}/pools/${encodeURIComponent(poolId)}/nodes/${encodeURIComponent(nodeId)}`;
  }

  /**
   * A domain context for one change. The cluster reacts to its own changes directly; the hooks
   * hear what the domain changes on its own meanwhile (a job ending by onTaskFailure or
   * onAllTasksComplete after a report, and with it an auto pool).
   */
  batch(account: string): BatchContext {
    return { store: this.store, account, now: new Date(), hooks: this.hooks };
  }

  /**
   * What the domain tells of changes it makes on its own during the cluster's changes. kiln up
   * replaces these with the same hooks the Batch API uses (which include the local nodes).
   */
  hooks: BatchHooks = {
    jobEnded: (account, job) => {
      onJobEnded(this, account, job).catch((err: unknown) => this.log(`cluster: jobEnded failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    },
  };

  /** What commands for a node of this pool are built with: keys, the auto-storage, the pool's user accounts. */
  async commands(account: string, poolPk: number): Promise<CommandContext> {
    const pool = (await this.store.pools.getByPk(poolPk))?.doc;
    return {
      account: this.accounts.get(account)!,
      blobAccountUrl: this.blobAccountUrl(account),
      userAccounts: (pool?.['userAccounts'] as CommandContext['userAccounts']) ?? [],
    };
  }

  session(account: string, poolPk: number, nodeId: string): NodeSession | undefined {
    return this.sessions.get(sessionKey(account, poolPk, nodeId));
  }

  sessionsOfPool(account: string, poolPk: number): NodeSession[] {
    return [...this.sessions.values()].filter((s) => s.account === account && s.poolPk === poolPk);
  }
}
