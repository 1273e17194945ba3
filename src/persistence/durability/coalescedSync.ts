/**
 * Shares one flush among many callers, which is what makes a group commit: every caller's promise
 * settles after a run of `flush` that *started* after the call, so that run covers every change the
 * caller made before calling. Callers that arrive while a run is under way all wait for one next run.
 */
export class CoalescedSync {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.running) return this.start();
    const next = () => {
      this.queued = undefined;
      return this.start();
    };
    this.queued = this.running.then(next, next);
    return this.queued;
  }

  private start(): Promise<void> {
    const run = (async () => this.flush())().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
