import type { AgentCommand } from '../protocol/agent/messages.js';

/** A task this node runs, as the scheduler counts it. */
export interface RunningTask {
  jobPk: number;
  taskId: string;
  slots: number;
  /** When the command went out. */
  sentAt: number;
}

/** Where a connected agent's commands are written: its open command stream. */
export interface CommandSink {
  write(commands: AgentCommand[]): void;
  /** Closes the stream: the agent reconnects, and learns whether it still has a session. */
  end?(): void;
}

/**
 * What the server keeps in memory about one connected node: its command stream (commands are
 * pushed the moment they exist, queued while it reconnects) and the tasks it runs (for slot
 * accounting). All of it can be rebuilt: the store holds the truth.
 */
export class NodeSession {
  private queue: AgentCommand[] = [];
  private sink: CommandSink | undefined;
  private isClosed = false;
  /** When the node was last heard from: joined, opened its stream, reported or sent a heartbeat. */
  lastSeen = Date.now();
  readonly tasks = new Map<string, RunningTask>();
  /** Jobs whose preparation task succeeded on this node. */
  readonly preparedJobs = new Set<number>();
  /** Jobs whose preparation task runs now, with the task commands waiting for it. */
  readonly awaitingPreparation = new Map<number, AgentCommand[]>();
  /** Jobs any task of which ran here: they get a release task when they end. */
  readonly jobsRun = new Set<number>();
  startTaskAttempt = 0;
  /** Runs the agent's heartbeats have not listed, and since when. */
  readonly unconfirmed = new Map<string, number>();

  constructor(
    readonly account: string,
    readonly poolPk: number,
    readonly poolId: string,
    readonly nodeId: string,
    /** SHA-256 of this session's secret (auth/agentTokens.ts); the node record keeps it too. */
    public secretHash: string | undefined,
  ) {}

  get key(): string {
    return sessionKey(this.account, this.poolPk, this.nodeId);
  }

  get connected(): boolean {
    return this.sink !== undefined;
  }

  get usedSlots(): number {
    let used = 0;
    for (const t of this.tasks.values()) used += t.slots;
    return used;
  }

  send(...commands: AgentCommand[]): void {
    if (commands.length === 0) return;
    if (this.sink) this.sink.write(commands);
    else this.queue.push(...commands);
  }

  /** The agent's command stream opened: what queued up meanwhile goes out first. */
  attach(sink: CommandSink): void {
    this.sink = sink;
    this.lastSeen = Date.now();
    if (this.queue.length > 0) {
      const pending = this.queue;
      this.queue = [];
      sink.write(pending);
    }
  }

  detach(sink: CommandSink): void {
    if (this.sink !== sink) return;
    this.sink = undefined;
    this.lastSeen = Date.now();
  }

  /** Closed: replaced by a new session of its node, or the node is gone. Its runs are over. */
  get closed(): boolean {
    return this.isClosed;
  }

  close(): void {
    this.isClosed = true;
    this.sink?.end?.();
    this.sink = undefined;
    this.queue = [];
  }
}

export const sessionKey = (account: string, poolPk: number, nodeId: string): string => `${account}/${poolPk}/${nodeId.toLowerCase()}`;
