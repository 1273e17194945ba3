/**
 * Passes over an account's state, run soon after a kick, one at a time. A burst of kicks costs one
 * pass per account; a kick during a pass runs that account again once the pass ends. Passes read the
 * store, then commit what they decided: two at once would decide from the same reading (place a task
 * twice, start a node twice).
 */
export class AccountPasses {
  private readonly due = new Set<string>();
  private draining = false;

  constructor(
    private readonly pass: (account: string) => Promise<void>,
    private readonly log: (message: string) => void,
  ) {}

  kick(account: string): void {
    this.due.add(account);
    if (this.draining) return;
    this.draining = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.due.size > 0) {
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
      this.draining = false;
    }
  }
}
