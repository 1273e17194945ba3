import { nodeToken, type TokenClaims } from '../auth/agentTokens.js';
import type { AccountRegistry } from '../config/accounts.js';
import { nodeTimings, type NodeTimings } from '../config/timings.js';
import type { BatchHooks } from '../domain/batch/context.js';
import { expireJobs } from '../domain/batch/jobs/jobWallClock.js';
import { countPoolNodes, newNodeDoc, newNodeId, nodeJoined, unplannedNodeJoining } from '../domain/batch/nodes/lifecycle.js';
import type { BatchStore } from '../persistence/batch/store.js';
import type { JoinRequest, JoinResponse, ReportsRequest } from '../protocol/agent/messages.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { taskCommand, type RunnableSpec } from './commands.js';
import { ClusterContext } from './context.js';
import { FileRequests } from './fileRequests.js';
import { clearNode, loseNode, onJobEnded, onNodeChanged, onPoolDeleting, onTaskEnded } from './nodeEvents.js';
import { requeueLostRuns } from './lostRuns.js';
import { restoreSessions } from './restoreSessions.js';
import { applyReports } from './reports.js';
import { runId } from './runs.js';
import { NodeSession, type CommandSink } from './session.js';

export class AgentApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface ClusterOptions {
  store: BatchStore;
  accounts: AccountRegistry;
  batchUrl: string;
  blobAccountUrl: (account: string) => string;
  log: (m: string) => void;
  /** Heartbeats and node loss; nodeTimings() when not given. */
  timings?: NodeTimings;
}

/**
 * The server side of compute nodes: agents join, fetch commands and report through it; it keeps
 * the node records and task states in step, hears the API's changes (hooks), and runs the scheduler.
 */
export class Cluster {
  readonly ctx: ClusterContext;
  readonly scheduler: Scheduler;
  readonly files: FileRequests;
  readonly timings: NodeTimings;
  private readonly monitor: NodeJS.Timeout;

  constructor(private readonly opts: ClusterOptions) {
    this.timings = opts.timings ?? nodeTimings();
    this.ctx = new ClusterContext(opts.store, opts.accounts, opts.blobAccountUrl, opts.batchUrl, opts.log, this.timings);
    this.scheduler = new Scheduler(this.ctx);
    this.files = new FileRequests(this.ctx);
    const restored = restoreSessions(this.ctx);
    if (restored > 0) opts.log(`waiting for the agents of ${restored} node(s) to reconnect`);
    this.monitor = setInterval(() => {
      this.findLostNodes();
      this.expireJobs();
    }, Math.min(1000, this.timings.lostAfterMs / 4));
    this.monitor.unref();
  }

  /** The hooks the Batch API calls after its changes. */
  hooks(): BatchHooks {
    const guard = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        this.opts.log(`cluster: ${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    };
    return {
      taskEnded: (account, job, task) => guard('taskEnded', () => onTaskEnded(this.ctx, account, job, task)),
      jobEnded: (account, job) => guard('jobEnded', () => onJobEnded(this.ctx, account, job)),
      poolDeleting: (account, pool) => guard('poolDeleting', () => onPoolDeleting(this.ctx, account, pool)),
      nodeChanged: (account, pool, node) => guard('nodeChanged', () => onNodeChanged(this.ctx, account, pool, node)),
      changed: (account) => this.scheduler.kick(account),
    };
  }

  /**
   * An agent joins (or rejoins, after a reboot or a crash) as a node of a pool: whatever the record
   * said it ran is gone, so those tasks go back to the queue; then its start task, if any.
   */
  join(claims: TokenClaims, body: JoinRequest): JoinResponse {
    const account = this.opts.accounts.get(claims.account)!;
    const ctx = this.ctx.batch(account.name);
    const { session, startTask } = this.ctx.store.tx(() => {
      const pool = this.ctx.store.pools.get(account.name, claims.poolId);
      if (!pool || pool.doc.state === 'deleting') throw new AgentApiError(404, `pool ${claims.poolId} does not exist`);
      const nodeId = body.nodeId ?? newNodeId(ctx.now, this.ctx.store.nodes.count(pool.pk));
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId)) throw new AgentApiError(400, 'bad node id');
      let node = this.ctx.store.nodes.get(pool.pk, nodeId)?.doc;
      if (!node) {
        unplannedNodeJoining(pool.doc, body.isDedicated);
        node = newNodeDoc(ctx, pool.doc, nodeId, body.isDedicated);
        this.ctx.store.nodes.insert(pool.pk, node);
      } else if (node.state === 'leavingpool') {
        throw new AgentApiError(410, `node ${nodeId} is leaving the pool`);
      }
      const previous = this.ctx.session(account.name, pool.pk, nodeId);
      previous?.close();
      clearNode(this.ctx, ctx, pool.doc, nodeId, 'requeue', previous);
      nodeJoined(ctx, pool.pk, pool.doc, node);
      countPoolNodes(ctx, pool.pk, pool.doc);
      const session = new NodeSession(account.name, pool.pk, pool.doc.id, nodeId);
      this.ctx.sessions.set(session.key, session);
      return { session, startTask: node['startTask'] as RunnableSpec | undefined };
    });
    if (startTask) {
      session.send(taskCommand(this.ctx.commands(account.name, session.poolPk), runId({ kind: 'starttask', attempt: 0 }), 'starttask', startTask, {}));
    }
    this.scheduler.kick(account.name);
    return {
      nodeId: session.nodeId,
      nodeToken: nodeToken(account, session.poolId, session.nodeId),
      accountName: account.name,
      accountUrl: `${this.opts.batchUrl}/`,
      heartbeatMs: this.timings.heartbeatMs,
      cutOffMs: this.timings.agentCutOffMs,
    };
  }

  private sessionFor(claims: TokenClaims): NodeSession {
    const pool = this.ctx.store.pools.get(claims.account, claims.poolId);
    const session = pool && claims.nodeId ? this.ctx.session(claims.account, pool.pk, claims.nodeId) : undefined;
    // 409: the server no longer counts this node as live (lost, or restarted): join again.
    if (!session) throw new AgentApiError(pool ? 409 : 404, 'this node has no session: join again');
    return session;
  }

  /** The agent's command stream: commands are written to it as they come, until it closes. */
  openCommandStream(claims: TokenClaims, sink: CommandSink, closed: Promise<void>): void {
    const session = this.sessionFor(claims);
    session.attach(sink);
    void closed.then(() => session.detach(sink));
  }

  report(claims: TokenClaims, request: ReportsRequest): void {
    const session = this.sessionFor(claims);
    session.lastSeen = Date.now();
    const requeued = request.running ? requeueLostRuns(this.ctx, session, request.running) : false;
    // An empty batch is the agent's heartbeat.
    if (request.reports.length > 0) applyReports(this.ctx, session, request.reports);
    if (requeued || request.reports.length > 0) this.scheduler.kick(session.account);
  }

  /**
   * Nodes not heard from for too long (no heartbeat or report; an open stream proves nothing, a
   * hung agent's socket stays open): lost, their tasks requeued.
   */
  private findLostNodes(): void {
    const now = Date.now();
    for (const session of [...this.ctx.sessions.values()]) {
      if (now - session.lastSeen < this.timings.lostAfterMs) continue;
      this.opts.log(`node ${session.nodeId} of pool ${session.poolId} stopped answering: its tasks go back to the queue`);
      try {
        loseNode(this.ctx, session);
      } catch (err) {
        this.opts.log(`cluster: losing node ${session.nodeId} failed: ${String(err)}`);
      }
      this.scheduler.kick(session.account);
    }
  }

  /** Jobs past their maxWallClockTime end, as on Azure. */
  private expireJobs(): void {
    for (const account of this.opts.accounts.all()) {
      try {
        if (expireJobs(this.ctx.batch(account.name)) > 0) this.scheduler.kick(account.name);
      } catch (err) {
        this.opts.log(`cluster: ending jobs past their wall-clock time failed: ${String(err)}`);
      }
    }
  }

  close(): void {
    clearInterval(this.monitor);
    for (const session of this.ctx.sessions.values()) session.close();
  }
}
