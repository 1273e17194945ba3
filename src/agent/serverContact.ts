/**
 * When an agent last reached its server, and what it does when that was too long ago. The server
 * counts a node lost (and requeues its runs elsewhere) `lostAfterMs` after it last heard from it; an
 * agent that has not reached the server for `cutOffMs` (shorter: config/timings.ts) stops its runs
 * first, so that the same task never runs twice at once, here and on the node it is requeued to.
 *
 * A call counts from when it was sent: the server heard it no earlier than that, so the agent's
 * clock runs ahead of the server's, never behind.
 */
export class ServerContact {
  private lastReached = Date.now();
  private readonly timer: NodeJS.Timeout;
  private cut = false;

  constructor(
    private readonly cutOffMs: number,
    private readonly onCutOff: () => void,
  ) {
    // Checked several times per cut-off period: it fires at most cutOffMs / 4 late.
    this.timer = setInterval(() => this.check(), Math.max(20, Math.floor(cutOffMs / 4)));
    this.timer.unref();
  }

  /** A call sent at `sentAt` was answered. */
  reached(sentAt: number): void {
    if (sentAt > this.lastReached) this.lastReached = sentAt;
  }

  get cutOff(): boolean {
    return this.cut;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    if (this.cut || Date.now() - this.lastReached < this.cutOffMs) return;
    this.cut = true;
    this.stop();
    this.onCutOff();
  }
}
