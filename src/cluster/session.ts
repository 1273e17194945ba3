import type { AgentCommand } from '../protocol/agent/messages.js';

/** A task this node runs, as the scheduler counts it. */
export interface RunningTask {
  jobPk: number;
  taskId: string;
  slots: number;
}

/**
 * What the server keeps in memory about one connected node: commands waiting to be fetched, the
 * long-poll waiting for them, and the tasks it runs (for slot accounting). All of it can be rebuilt:
 * the store holds the truth, and an agent that reconnects after a server restart simply carries on.
 */
export class NodeSession {
  private queue: AgentCommand[] = [];
  private waiter: ((commands: AgentCommand[]) => void) | undefined;
  lastSeen = Date.now();
  polling = false;
  readonly tasks = new Map<string, RunningTask>();
  /** Jobs whose preparation task succeeded on this node. */
  readonly preparedJobs = new Set<number>();
  /** Jobs whose preparation task runs now, with the task commands waiting for it. */
  readonly awaitingPreparation = new Map<number, AgentCommand[]>();
  /** Jobs any task of which ran here: they get a release task when they end. */
  readonly jobsRun = new Set<number>();
  startTaskAttempt = 0;

  constructor(
    readonly account: string,
    readonly poolPk: number,
    readonly poolId: string,
    readonly nodeId: string,
  ) {}

  get key(): string {
    return sessionKey(this.account, this.poolPk, this.nodeId);
  }

  get usedSlots(): number {
    let used = 0;
    for (const t of this.tasks.values()) used += t.slots;
    return used;
  }

  send(...commands: AgentCommand[]): void {
    this.queue.push(...commands);
    if (this.waiter && this.queue.length > 0) {
      const wake = this.waiter;
      this.waiter = undefined;
      wake(this.take());
    }
  }

  private take(): AgentCommand[] {
    const out = this.queue;
    this.queue = [];
    return out;
  }

  /** Answers a long-poll: at once if commands wait, else when one comes or after `waitMs`. */
  poll(waitMs: number, closed: Promise<void>): Promise<AgentCommand[]> {
    this.lastSeen = Date.now();
    this.polling = true;
    this.waiter?.([]);
    if (this.queue.length > 0) return Promise.resolve(this.finishPoll(this.take()));
    return new Promise((resolve) => {
      const timer = setTimeout(() => done([]), waitMs);
      const done = (commands: AgentCommand[]) => {
        clearTimeout(timer);
        if (this.waiter === done) this.waiter = undefined;
        resolve(this.finishPoll(commands));
      };
      this.waiter = done;
      // A poll whose connection drops hands its commands back to the queue for the next poll.
      void closed.then(() => {
        if (this.waiter === done) {
          this.waiter = undefined;
          clearTimeout(timer);
          this.finishPoll([]);
        }
      });
    });
  }

  /** Commands a poll took but could not deliver go back to the front of the queue. */
  requeue(commands: AgentCommand[]): void {
    this.queue.unshift(...commands);
  }

  private finishPoll(commands: AgentCommand[]): AgentCommand[] {
    this.polling = false;
    this.lastSeen = Date.now();
    return commands;
  }

  /** Drops the waiting long-poll (the node left or was lost). */
  close(): void {
    this.waiter?.([]);
    this.queue = [];
  }
}

export const sessionKey = (account: string, poolPk: number, nodeId: string): string => `${account}/${poolPk}/${nodeId.toLowerCase()}`;
