/**
 * Passes over an account's state, run soon after a kick, one at a time. A burst of kicks costs one
 * pass per account; a kick during a pass runs that account again once the pass ends. Passes read the
 * store, then commit what they decided: two at once would decide from the same reading (place a task
 * twice, start a node twice).
 */
export class AccountPasses {
  private readonly due = new Set<string>();
  /** The drain in progress, if any. */
  private draining: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly pass: (account: string) => Promise<void>,
    private readonly log: (message: string) => void,
  ) {}

  kick(account: string): void {
    if (this.closed) return;
    this.due.add(account);
    if (this.draining) return;
    this.draining = new Promise((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** No pass starts any more; resolves once the one in progress has ended (before the store closes). */
  async close(): Promise<void> {
    this.closed = true;
    await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.due.size > 0 && !this.closed) {
        const accounts = [...this.due];
        this.due.clear();
        for (const account of accounts) {
          try {
            await this.pass(account);
          } catch (err) {
            this.log(`${account}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
          }
        }
      }
    } finally {
      this.draining = undefined;
    }
  }
}
