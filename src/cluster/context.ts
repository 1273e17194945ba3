import type { AccountRegistry } from '../config/accounts.js';
import type { BatchContext } from '../domain/batch/context.js';
import type { BatchStore } from '../persistence/batch/store.js';
import type { CommandContext } from './commands.js';
import { sessionKey, type NodeSession } from './session.js';

/** What the parts of the cluster (agent API, reports, node events, scheduler) share. */
export class ClusterContext {
  readonly sessions = new Map<string, NodeSession>();

  constructor(
    readonly store: BatchStore,
    readonly accounts: AccountRegistry,
    private readonly blobAccountUrl: (account: string) => string,
    readonly log: (message: string) => void,
  ) {}

  /** A domain context for one change; hooks stay empty: the cluster is the one reacting to them. */
  batch(account: string): BatchContext {
    return { store: this.store, account, now: new Date(), hooks: {} };
  }

  commands(account: string): CommandContext {
    return { account: this.accounts.get(account)!, blobAccountUrl: this.blobAccountUrl(account) };
  }

  session(account: string, poolPk: number, nodeId: string): NodeSession | undefined {
    return this.sessions.get(sessionKey(account, poolPk, nodeId));
  }

  sessionsOfPool(account: string, poolPk: number): NodeSession[] {
    return [...this.sessions.values()].filter((s) => s.account === account && s.poolPk === poolPk);
  }
}
