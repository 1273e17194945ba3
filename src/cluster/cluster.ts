import type { JoinClaims, NodeClaims } from '../auth/agentTokens.js';
import type { AccountRegistry } from '../config/accounts.js';
import { nodeTimings, type NodeTimings } from '../config/timings.js';
import { unmappedAddress } from '../config/advertise.js';
import type { BatchHooks } from '../domain/batch/context.js';
import { expireJobs } from '../domain/batch/jobs/jobWallClock.js';
import { countPoolNodes, newNodeDoc, newNodeId, nodeJoined, unplannedNodeJoining } from '../domain/batch/nodes/lifecycle.js';
import type { ComputeNode } from '../domain/batch/models.js';
import type { BatchStore } from '../domain/batch/store.js';
import { AgentApiError } from '../protocol/agent/errors.js';
import type { JoinRequest, JoinResponse, ReportsRequest, ReportsResponse } from '../protocol/agent/messages.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { taskCommand, type RunnableSpec } from './commands.js';
import { ClusterContext } from './context.js';
import { FileRequests, type FileAnswer } from './fileRequests.js';
import { authenticateNode, newSessionOf, rejoiningNode } from './nodeCredentials.js';
import { clearNode, loseNode, onJobEnded, onNodeChanged, onPoolDeleting, onTaskEnded } from './nodeEvents.js';
import { requeueLostRuns } from './lostRuns.js';
import { restoreSessions } from './restoreSessions.js';
import { applyReports } from './reports.js';
import { runId } from './runs.js';
import { NodeSession, type CommandSink } from './session.js';

export { AgentApiError };

export interface ClusterOptions {
  store: BatchStore;
  accounts: AccountRegistry;
  batchUrl: string;
  blobAccountUrl: (account: string) => string;
  log: (m: string) => void;
  /** Heartbeats and node loss; nodeTimings() when not given. */
  timings?: NodeTimings;
  /**
   * Stops a silent node's runs before its tasks go back to the queue, where the server can (kiln
   * up's local nodes: a hung agent cannot stop them itself). Remote agents stop their own runs when
   * cut off (agentCutOffMs).
   */
  fenceLostNode?: (session: NodeSession) => void;
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
  /** The node-loss and wall-clock check in progress, if any. */
  private checking: Promise<void> | undefined;

  private constructor(private readonly opts: ClusterOptions) {
    this.timings = opts.timings ?? nodeTimings();
    this.ctx = new ClusterContext(opts.store, opts.accounts, opts.blobAccountUrl, opts.batchUrl, opts.log, this.timings);
    this.scheduler = new Scheduler(this.ctx);
    this.ctx.wake = (account) => this.scheduler.kick(account);
    this.files = new FileRequests(this.ctx);
    this.monitor = setInterval(
      () => {
        if (this.checking) return; // the last check is still going
        this.checking = this.findLostNodes()
          .then(() => this.expireJobs())
          .catch((err: unknown) => opts.log(`cluster: node and job checks failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`))
          .finally(() => (this.checking = undefined));
      },
      Math.min(1000, this.timings.lostAfterMs / 4),
    );
    this.monitor.unref();
  }

  /** The cluster, with the sessions of the nodes that were joined when the server last stopped. */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    const cluster = new Cluster(opts);
    const restored = await restoreSessions(cluster.ctx);
    if (restored > 0) opts.log(`waiting for the agents of ${restored} node(s) to reconnect`);
    return cluster;
  }

  /** The hooks the Batch API calls after its changes. */
  hooks(): BatchHooks {
    const guard = (what: string, fn: () => Promise<void>) => {
      fn().catch((err: unknown) => this.opts.log(`cluster: ${what} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
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
   * An agent joins a pool as a new node, whose id the server picks, or rejoins as the node its
   * token proves it is (after a reboot, a crash, or a server restart; kiln up's local nodes with
   * the token they were started with). Whatever the node ran is gone, so those tasks go back to
   * the queue; then its start task, if any. Every join starts a new session, with a new token.
   * The node's ipAddress is the address its join came from, as the server sees it (behind a NAT or a
   * proxy, theirs): kiln up's local agents come over loopback, 127.0.0.1.
   */
  async join(claims: JoinClaims, body: JoinRequest, peerAddress?: string): Promise<JoinResponse> {
    const account = this.opts.accounts.get(claims.account)!;
    const ctx = this.ctx.batch(account.name);
    const { session, token } = await this.ctx.store.tx(async () => {
      const pool = await this.ctx.store.pools.get(account.name, claims.poolId);
      if (!pool || pool.doc.state === 'deleting') throw new AgentApiError(404, `pool ${claims.poolId} does not exist`);
      let node: ComputeNode;
      if (body.nodeToken !== undefined) {
        node = await rejoiningNode(this.ctx, account.name, pool.pk, pool.doc, body.nodeToken);
      } else {
        let nodeId: string;
        do nodeId = newNodeId(ctx.now, await this.ctx.store.nodes.count(pool.pk));
        while (await this.ctx.store.nodes.get(pool.pk, nodeId));
        await unplannedNodeJoining(ctx, pool.pk, pool.doc, body.isDedicated);
        node = newNodeDoc(ctx, pool.doc, nodeId, body.isDedicated);
        await this.ctx.store.nodes.insert(pool.pk, node);
      }
      const previous = this.ctx.session(account.name, pool.pk, node.id);
      previous?.close();
      await clearNode(this.ctx, ctx, pool.doc, node.id, 'requeue', previous);
      if (peerAddress) node.ipAddress = unmappedAddress(peerAddress);
      const issued = newSessionOf(account.name, pool.doc, node);
      await nodeJoined(ctx, pool.pk, pool.doc, node);
      await countPoolNodes(ctx, pool.pk, pool.doc);
      const session = new NodeSession(account.name, pool.pk, pool.doc.id, node.id, issued.secretHash);
      this.ctx.sessions.set(session.key, session);
      const startTask = node['startTask'] as RunnableSpec | undefined;
      if (startTask) {
        session.send(taskCommand(await this.ctx.commands(account.name, session.poolPk), runId({ kind: 'starttask', attempt: 0 }), 'starttask', startTask, {}));
      }
      return { session, token: issued.token };
    });
    this.scheduler.kick(account.name);
    return {
      nodeId: session.nodeId,
      nodeToken: token,
      accountName: account.name,
      accountUrl: `${this.opts.batchUrl}/`,
      heartbeatMs: this.timings.heartbeatMs,
      cutOffMs: this.timings.agentCutOffMs,
    };
  }

  /** The agent's command stream: commands are written to it as they come, until it closes. */
  async openCommandStream(claims: NodeClaims, sink: CommandSink, closed: Promise<void>): Promise<void> {
    await this.ctx.store.tx(async () => {
      const session = await authenticateNode(this.ctx, claims);
      session.attach(sink);
      void closed.then(() => session.detach(sink));
    });
  }

  /** A batch of reports (empty: the agent's heartbeat); the run ids of those that were not this session's to make. */
  async report(claims: NodeClaims, request: ReportsRequest): Promise<ReportsResponse> {
    // One unit of work: the session the reports are checked against stays the node's until they are applied.
    return this.ctx.store.tx(async () => {
      const session = await authenticateNode(this.ctx, claims);
      session.lastSeen = Date.now();
      const requeued = request.running ? await requeueLostRuns(this.ctx, session, request.running) : false;
      const refused = request.reports.length > 0 ? await applyReports(this.ctx, session, request.reports) : [];
      if (requeued || request.reports.length > 0) this.scheduler.kick(session.account);
      return { refused };
    });
  }

  /** A node's answer to a file request: taken only from the session the request was sent to. */
  async answerFiles(claims: NodeClaims, requestId: string, answer: FileAnswer): Promise<void> {
    await this.ctx.store.tx(async () => {
      const session = await authenticateNode(this.ctx, claims);
      if (!this.files.answer(session, requestId, answer)) throw new AgentApiError(404, 'no such file request is waiting for this node');
    });
  }

  /**
   * Nodes not heard from for too long (no heartbeat or report; an open stream proves nothing, a
   * hung agent's socket stays open): lost, their tasks requeued.
   */
  private async findLostNodes(): Promise<void> {
    const now = Date.now();
    for (const session of [...this.ctx.sessions.values()]) {
      if (now - session.lastSeen < this.timings.lostAfterMs) continue;
      this.opts.log(`node ${session.nodeId} of pool ${session.poolId} stopped answering: its tasks go back to the queue`);
      try {
        this.opts.fenceLostNode?.(session);
        await loseNode(this.ctx, session);
      } catch (err) {
        this.opts.log(`cluster: losing node ${session.nodeId} failed: ${String(err)}`);
      }
      this.scheduler.kick(session.account);
    }
  }

  /** Jobs past their maxWallClockTime end, as on Azure. */
  private async expireJobs(): Promise<void> {
    for (const account of this.opts.accounts.all()) {
      try {
        if ((await expireJobs(this.ctx.batch(account.name))) > 0) this.scheduler.kick(account.name);
      } catch (err) {
        this.opts.log(`cluster: ending jobs past their wall-clock time failed: ${String(err)}`);
      }
    }
  }

  /** Ends the command streams; resolves once the checks and the scheduler pass in progress have ended. */
  async close(): Promise<void> {
    clearInterval(this.monitor);
    for (const session of this.ctx.sessions.values()) session.close();
    await Promise.all([this.checking, this.scheduler.close()]);
  }
}
