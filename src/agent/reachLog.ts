import { errorReason } from './transfers.js';

/** How often an agent that still cannot reach its server says so (env KILN_AGENT_UNREACHABLE_LOG_MS). */
export const DEFAULT_UNREACHABLE_LOG_MS = 60_000;

/**
 * Why an agent cannot reach its server, told without flooding its log: a line when the reason
 * changes (refused, a name that does not resolve, a 401 with the server's message, a timeout), a
 * line every `remindMs` while it lasts ("still cannot reach … since …"), and a line when the server
 * answers again. The agent's calls retry with backoff on their own; this only says why.
 */
export class ReachLog {
  private failingSince: Date | undefined;
  private reason: string | undefined;
  private lastLogged = 0;

  constructor(
    private readonly serverUrl: string,
    private readonly log: (m: string) => void,
    private readonly remindMs = unreachableLogMs(process.env),
  ) {}

  /** A call to the server failed (a thrown error or a refused answer). */
  failed(err: unknown): void {
    const reason = errorReason(err);
    const now = Date.now();
    this.failingSince ??= new Date(now);
    if (reason !== this.reason) {
      this.reason = reason;
      this.lastLogged = now;
      this.log(`cannot reach ${this.serverUrl}: ${reason}; retrying`);
    } else if (now - this.lastLogged >= this.remindMs) {
      this.lastLogged = now;
      this.log(`still cannot reach ${this.serverUrl} since ${this.failingSince.toISOString()}: ${reason}`);
    }
  }

  /** A call was answered: the next failure is news again. */
  reached(): void {
    if (this.failingSince === undefined) return;
    this.log(`reached ${this.serverUrl} again (unreachable since ${this.failingSince.toISOString()})`);
    this.failingSince = undefined;
    this.reason = undefined;
  }
}

function unreachableLogMs(env: NodeJS.ProcessEnv): number {
  const ms = Number(env.KILN_AGENT_UNREACHABLE_LOG_MS);
  return Number.isInteger(ms) && ms > 0 ? ms : DEFAULT_UNREACHABLE_LOG_MS;
}
