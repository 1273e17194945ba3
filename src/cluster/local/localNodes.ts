import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { joinToken } from '../../auth/agentTokens.js';
import { killNodeRuns } from '../../agent/exec/containment.js';
import { removeTree } from '../../agent/fs/pinnedDir.js';
import { releaseNodeUsers } from '../../agent/users.js';
import type { CloudPool, ComputeNode } from '../../domain/batch/models.js';
import { countPoolNodes, newNodeDoc, newNodeId, saveNode } from '../../domain/batch/nodes/lifecycle.js';
import { transition } from '../../domain/batch/models.js';
import { beginDeallocation, retainedUntil } from '../../domain/batch/nodes/deallocation.js';
import { RESIZE_DEALLOCATION } from '../../domain/batch/pools/resizePool.js';
import type { Cluster } from '../cluster.js';
import { issueLocalNodeToken } from '../nodeCredentials.js';
import { abandonNode, loseNode, onNodeChanged } from '../nodeEvents.js';
import { sessionKey } from '../session.js';
import { AccountPasses } from '../../scheduler/accountPasses.js';

export interface LocalNodesOptions {
  batchUrl: string;
  /** Where node root directories go: one per node, like a VM's /mnt/batch/tasks. */
  nodesDir: string;
  /** The kiln CLI entry point the agents run from. */
  cliEntry: string;
  log: (m: string) => void;
}

interface NodeProcess {
  key: string;
  account: string;
  poolPk: number;
  poolId: string;
  nodeId: string;
  root: string;
  child: ChildProcess;
  stopping: boolean;
}

// States a node is removed in first when a pool shrinks: those running nothing.
const REMOVE_FIRST = ['creating', 'starting', 'waitingforstarttask', 'starttaskfailed', 'unusable', 'offline', 'idle'];

/**
 * `kiln up`'s local pools: every node of a pool is a `kiln agent` child process on this machine,
 * joining over the same agent protocol as a remote one. This provider only keeps the processes in
 * line with the pool's targets and node records; everything else is the agent's and the cluster's.
 */
export class LocalNodes {
  private readonly processes = new Map<string, NodeProcess>();
  /** Local nodes leaving with no agent, waiting for their retained data's deadline (park). */
  /** Accounts whose orphaned node disks were swept at start. */
  private readonly swept = new Set<string>();
  private readonly parked = new Map<string, { account: string; poolPk: number; nodeId: string; root: string }>();
  private readonly passes = new AccountPasses(
    (account) => this.reconcileAccount(account),
    (m) => this.opts.log(`local nodes: ${m}`),
  );
  private closed = false;

  constructor(
    private readonly cluster: Cluster,
    private readonly opts: LocalNodesOptions,
  ) {
    fs.mkdirSync(opts.nodesDir, { recursive: true, mode: 0o755 });
  }

  reconcile(account: string): void {
    this.passes.kick(account);
  }

  /**
   * One account's nodes brought in line with its pools. Not one unit of work: starting agents (their
   * users, their processes) is slow, and every node's reports would wait behind it; each change to the
   * node records is a unit of work of its own (resize, abandonNode), and passes never overlap.
   */
  private async reconcileAccount(account: string): Promise<void> {
    if (this.closed) return;
    const { store } = this.cluster.ctx;
    const wanted = new Set<string>();
    if (!this.swept.has(account)) {
      this.swept.add(account);
      await this.sweepOrphans(account);
    }
    for (const { pk, doc: pool } of await store.pools.all(account)) {
      if (pool.state === 'deleting') continue;
      const nodes = await this.resize(account, pk, pool);
      for (const node of nodes) {
        const key = sessionKey(account, pk, node.id);
        if (this.processes.has(key)) {
          wanted.add(key);
        } else if (node.state === 'leavingpool' && retainedUntil(node) !== undefined) {
          // Leaving once its tasks' data retention has passed, with no agent (kiln up restarted
          // meanwhile, which stopped it): its data stays on disk until the deadline stored on it,
          // which restoreSessions re-armed; no agent is coming back to keep a session alive.
          this.park(account, pk, pool.id, node.id);
        } else if (node.state === 'leavingpool') {
          // Leaving with no agent, still running tasks when kiln up stopped: nothing is left to
          // wait for; its tasks go back to the queue, and its disk goes.
          await abandonNode(this.cluster.ctx, account, pk, node.id);
          this.removeNode({ nodeId: node.id, root: this.rootOf(account, pool.id, node.id) });
        } else {
          wanted.add(key);
          await this.start(account, pk, pool.id, node.id, node.isDedicated);
        }
      }
    }
    for (const proc of this.processes.values()) {
      if (proc.account === account && !wanted.has(proc.key)) this.stop(proc, true);
    }
    for (const [key, node] of this.parked) {
      if (node.account !== account || (await store.nodes.get(node.poolPk, node.nodeId))) continue;
      this.parked.delete(key);
      this.removeNode(node);
    }
  }

  /** A local node that waits, with no agent, for its deadline to leave: its disk goes when its record has. */
  private park(account: string, poolPk: number, poolId: string, nodeId: string): void {
    const key = sessionKey(account, poolPk, nodeId);
    if (this.parked.has(key)) return;
    this.parked.set(key, { account, poolPk, nodeId, root: this.rootOf(account, poolId, nodeId) });
    // The session restoreSessions kept for its agent would count it lost, and drop it, before its time.
    const session = this.cluster.ctx.sessions.get(key);
    session?.close();
    this.cluster.ctx.sessions.delete(key);
  }

  /**
   * At start: the disks of local nodes that left their pool while kiln up was down, or as it started
   * (a retention deadline that had passed), go. Only under pools that exist, with no record.
   */
  private async sweepOrphans(account: string): Promise<void> {
    const { store } = this.cluster.ctx;
    for (const { pk, doc: pool } of await store.pools.all(account)) {
      const dir = path.dirname(this.rootOf(account, pool.id, 'x'));
      const entries = fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : [];
      for (const entry of entries) {
        if (entry.isDirectory() && !(await store.nodes.get(pk, entry.name))) this.removeNode({ nodeId: entry.name, root: path.join(dir, entry.name) });
      }
    }
  }

  private rootOf(account: string, poolId: string, nodeId: string): string {
    return path.join(this.opts.nodesDir, account, poolId.toLowerCase(), nodeId);
  }

  /**
   * Adds node records up to the pool's targets, or marks the excess leaving (with the deallocation
   * option of the pool's resize); returns the nodes to run: every local node still in the pool,
   * those leaving included (a node that lets its tasks finish runs until they have).
   */
  private async resize(account: string, poolPk: number, pool: CloudPool): Promise<ComputeNode[]> {
    const { store } = this.cluster.ctx;
    const ctx = this.cluster.ctx.batch(account);
    const localNodes = async () => (await store.nodes.list(poolPk, { limit: 1_000_000 })).map((r) => JSON.parse(r.doc) as ComputeNode).filter((n) => n['_local'] === true);
    const all = (await store.nodes.list(poolPk, { limit: 1_000_000 })).map((r) => JSON.parse(r.doc) as ComputeNode);
    // Remote agents (kiln agent on other machines) count towards the targets but are never removed here.
    const live = all.filter((n) => n.state !== 'leavingpool');
    const local = live.filter((n) => n['_local'] === true);
    if (pool.enableAutoScale) return await localNodes();
    const targets = { dedicated: pool.targetDedicatedNodes ?? 0, lowPriority: pool.targetLowPriorityNodes ?? 0 };
    const removed: ComputeNode[] = [];
    await store.tx(async () => {
      for (const dedicated of [true, false]) {
        const target = dedicated ? targets.dedicated : targets.lowPriority;
        const counted = live.filter((n) => n.isDedicated === dedicated).length;
        for (let i = counted; i < target; i++) {
          const node = newNodeDoc(ctx, pool, newNodeId(ctx.now, all.length + i), dedicated);
          node['_local'] = true;
          await store.nodes.insert(poolPk, node);
        }
        const excess = local
          .filter((n) => n.isDedicated === dedicated)
          .sort((a, b) => rank(a) - rank(b))
          .slice(0, Math.max(0, counted - target));
        for (const node of excess) {
          transition(node, 'leavingpool', ctx.now);
          beginDeallocation(node, 'remove', pool[RESIZE_DEALLOCATION]);
          await saveNode(ctx, poolPk, node);
          removed.push(node);
        }
      }
      await countPoolNodes(ctx, poolPk, pool);
    });
    for (const node of removed) await onNodeChanged(this.cluster.ctx, account, pool, node);
    return await localNodes();
  }

  private async start(account: string, poolPk: number, poolId: string, nodeId: string, isDedicated: boolean): Promise<void> {
    const accountInfo = this.cluster.ctx.accounts.get(account)!;
    const root = this.rootOf(account, poolId, nodeId);
    fs.mkdirSync(root, { recursive: true, mode: 0o755 });
    const log = fs.openSync(path.join(this.opts.nodesDir, account, poolId.toLowerCase(), `${nodeId}.agent.log`), 'a', 0o600); // for Kiln alone: tasks may not read other nodes' logs
    const child = spawn(
      process.execPath,
      // Node's own flags (a profiler, a heap limit) carry over to the agents. A small young
      // generation keeps an agent's memory small, and every task's fork copies its page tables.
      [
        '--max-semi-space-size=1',
        ...process.execArgv,
        this.opts.cliEntry,
        'agent',
        '--batch-url',
        this.opts.batchUrl,
        '--pool',
        poolId,
        '--node-id',
        nodeId,
        '--root',
        root,
        '--exit-with-stdin',
        ...(isDedicated ? [] : ['--low-priority']),
      ],
      // Tokens go in the environment, not on a command line every local user can read: the pool's
      // join token, and a node token that lets this process, and no other, take this node's record.
      // stdin is a pipe this process holds: when it dies, however it dies, its agents follow.
      {
        detached: true,
        stdio: ['pipe', log, log],
        env: { ...agentEnvironment(), KILN_AGENT_TOKEN: joinToken(accountInfo, poolId), KILN_NODE_TOKEN: await issueLocalNodeToken(this.cluster.ctx, account, poolPk, nodeId) },
      },
    );
    fs.closeSync(log);
    child.stdin?.on('error', () => undefined);
    const proc: NodeProcess = { key: sessionKey(account, poolPk, nodeId), account, poolPk, poolId, nodeId, root, child, stopping: false };
    this.processes.set(proc.key, proc);
    child.once('exit', () => {
      this.exited(proc).catch((err: unknown) => this.opts.log(`local nodes: node ${proc.nodeId}: ${String(err)}`));
    });
  }

  /**
   * An agent exited: after a `leave` (its node is gone from the pool) its disk goes; otherwise it
   * died under its node, whose tasks go back to the queue now, and the node comes back up.
   */
  private async exited(proc: NodeProcess): Promise<void> {
    if (this.processes.get(proc.key) === proc) this.processes.delete(proc.key);
    // Its runs die with it (its reaper kills them too) before its tasks are requeued below.
    killNodeRuns(proc.root);
    if (proc.stopping || this.closed) return;
    if (!(await this.cluster.ctx.store.nodes.get(proc.poolPk, proc.nodeId))) {
      this.removeNode(proc);
      return;
    }
    const session = this.cluster.ctx.sessions.get(proc.key);
    if (session) {
      this.opts.log(`node ${proc.nodeId}: its agent exited; requeuing its tasks and restarting it`);
      await loseNode(this.cluster.ctx, session);
      this.cluster.scheduler.kick(proc.account);
    }
    setTimeout(() => this.reconcile(proc.account), 200).unref();
  }

  /**
   * A local node the server counts lost (its agent hung: stopped, or stuck): its agent is killed and
   * its runs are gone before its tasks are requeued; the agent's exit then restarts the node.
   */
  fence(key: string): void {
    const proc = this.processes.get(key);
    if (!proc) return;
    this.opts.log(`node ${proc.nodeId}: its agent stopped answering; killing it and its runs`);
    try {
      process.kill(-proc.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    killNodeRuns(proc.root);
  }

  private stop(proc: NodeProcess, removeFiles: boolean): void {
    proc.stopping = true;
    this.processes.delete(proc.key);
    try {
      process.kill(-proc.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    killNodeRuns(proc.root);
    if (removeFiles) this.removeNode(proc);
    else this.releaseUsers(proc);
  }

  /** The node is gone from its pool: its users, its disk and its agent's log go, and the pool's directory with its last node. */
  private removeNode(proc: { nodeId: string; root: string }): void {
    this.releaseUsers(proc);
    removeTree(proc.root); // without following any link its tasks left
    fs.rmSync(`${proc.root}.agent.log`, { force: true });
    try {
      fs.rmdirSync(path.dirname(proc.root));
    } catch {
      // other nodes of the pool are still there
    }
  }

  /**
   * The OS users a node made go with it (unless another node of its pool here still has them): its
   * pool is gone, or kiln up stops, and makes them again (with the same ids) when it starts.
   */
  private releaseUsers(proc: { nodeId: string; root: string }): void {
    try {
      releaseNodeUsers(proc.root);
    } catch (err) {
      this.opts.log(`node ${proc.nodeId}: removing its users failed: ${String(err)}`);
    }
  }

  /** Stops every node process; their directories stay, as a machine's disk does. */
  /** Stops the agents; resolves once the pass in progress, if any, has ended (before the store closes). */
  async close(): Promise<void> {
    this.closed = true;
    for (const proc of [...this.processes.values()]) this.stop(proc, false);
    await this.passes.close();
  }

  /** Node process ids, for tests and the CLI: which agents run now. */
  running(): { poolId: string; nodeId: string; pid: number; root: string }[] {
    return [...this.processes.values()].map((p) => ({ poolId: p.poolId, nodeId: p.nodeId, pid: p.child.pid!, root: p.root }));
  }
}

/** The server's environment without its secrets: an agent holds its own pool's tokens and no account key. */
function agentEnvironment(): NodeJS.ProcessEnv {
  const { KILN_ACCOUNTS: _keys, KILN_ACCOUNTS_FILE: _keysFile, ...env } = process.env;
  return env;
}

const rank = (node: ComputeNode): number => {
  const i = REMOVE_FIRST.indexOf(node.state);
  return i === -1 ? REMOVE_FIRST.length : i;
};
