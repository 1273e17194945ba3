/**
 * How the agent moves task files over HTTP (resource-file downloads, output-file uploads): each
 * transfer is tried again after a transient failure — the connection refused or cut, no progress for
 * `idleTimeoutMs`, a name lookup that cannot answer now (EAI_AGAIN), 408, 429 or a 5xx (a server
 * restarting drains with 503 ServerBusy) — with exponential backoff and jitter, `attempts` times in
 * all. Any other answer (403, 404, 409…) fails at once, as Azure's node agent fails the task with the
 * service's status; so does a host name that does not exist (ENOTFOUND). With the defaults a transfer
 * is tried 5 times over about 30 s (2 + 4 + 8 + 16 s between attempts): a blip or a restart of
 * `kiln up` fails no task.
 */
export interface TransferPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The wait before the second try; it doubles after each (±20 %), up to maxBackoffMs. */
  firstBackoffMs: number;
  maxBackoffMs: number;
  /** An attempt that makes no progress (no answer, no byte sent or received) for this long is abandoned and retried. */
  idleTimeoutMs: number;
}

export const DEFAULT_TRANSFER_POLICY: TransferPolicy = { attempts: 5, firstBackoffMs: 2000, maxBackoffMs: 16_000, idleTimeoutMs: 30_000 };

/** The policy of this agent: the defaults, each overridden by KILN_TRANSFER_ATTEMPTS, KILN_TRANSFER_BACKOFF_MS, KILN_TRANSFER_TIMEOUT_MS. */
export function transferPolicy(env: NodeJS.ProcessEnv = process.env): TransferPolicy {
  const read = (name: string, fallback: number, min: number): number => {
    const text = env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, not "${text}"`);
    return value;
  };
  const firstBackoffMs = read('KILN_TRANSFER_BACKOFF_MS', DEFAULT_TRANSFER_POLICY.firstBackoffMs, 1);
  return {
    attempts: read('KILN_TRANSFER_ATTEMPTS', DEFAULT_TRANSFER_POLICY.attempts, 1),
    firstBackoffMs,
    maxBackoffMs: Math.max(firstBackoffMs, DEFAULT_TRANSFER_POLICY.maxBackoffMs),
    idleTimeoutMs: read('KILN_TRANSFER_TIMEOUT_MS', DEFAULT_TRANSFER_POLICY.idleTimeoutMs, 1),
  };
}

/** An answer a transfer did not want; retried when transient (408, 429, 5xx). */
export class TransferStatusError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

const isTransientStatus = (status: number): boolean => status >= 500 || status === 408 || status === 429;

interface ErrorWithCode {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** The code of a network error: fetch wraps it ("fetch failed", cause: the socket's error; an AggregateError when several addresses were tried). */
function networkCode(err: unknown): { code: string; message: string } | undefined {
  const cause = (err as ErrorWithCode | undefined)?.cause as ErrorWithCode | undefined;
  if (!cause || typeof cause !== 'object') return undefined;
  const first = Array.isArray(cause.errors) ? (cause.errors[0] as ErrorWithCode | undefined) : undefined;
  const code = typeof cause.code === 'string' ? cause.code : typeof first?.code === 'string' ? first.code : undefined;
  if (code === undefined || code === 'ERR_INVALID_URL') return undefined;
  return { code, message: String(cause.message || first?.message || code) };
}

const isTimeout = (err: unknown): boolean => err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');

/** A name that does not resolve (NXDOMAIN; a resolver that cannot answer now says EAI_AGAIN) or a certificate refused: the same next time. */
const isPermanentNetworkCode = (code: string): boolean => code === 'ENOTFOUND' || /CERT|TLS|SSL/.test(code);

/** Whether a failed attempt may succeed if tried again. Errors of the agent's own (its disk, a bad URL) are not. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TransferStatusError) return isTransientStatus(err.status);
  const network = networkCode(err);
  return isTimeout(err) || (network !== undefined && !isPermanentNetworkCode(network.code));
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'the host name does not resolve (DNS)',
  EAI_AGAIN: 'the host name could not be looked up now (DNS)',
  ETIMEDOUT: 'connecting timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connecting timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_SOCKET: 'the connection closed',
  UND_ERR_CLOSED: 'the connection closed',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable',
};

/** Why a call failed, in a few words an operator can act on (the agent logs it). */
export function errorReason(err: unknown): string {
  if (isTimeout(err)) return `timed out (${(err as Error).message})`;
  const network = networkCode(err);
  if (network) {
    const known = REASONS[network.code];
    if (known) return `${known} (${network.code})`;
    if (/CERT|TLS|SSL/.test(network.code)) return `TLS: ${network.message} (${network.code})`;
    return `${network.message} (${network.code})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * What an attempt is given: a signal aborted when the attempt has made no progress for
 * idleTimeoutMs, and `progress()` to call on each byte sent or received.
 */
export interface Attempt {
  signal: AbortSignal;
  progress(): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** The wait before try `n` + 1 (n ≥ 1): doubling from firstBackoffMs, capped, ±20 % so that many nodes do not retry in step. */
export const backoffMs = (policy: TransferPolicy, n: number): number =>
  Math.round(Math.min(policy.maxBackoffMs, policy.firstBackoffMs * 2 ** (n - 1)) * (0.8 + Math.random() * 0.4));

export interface RetryOptions {
  policy?: TransferPolicy;
  log?: (m: string) => void;
  /** The error thrown for a refusing answer or when the attempts are spent, from its message (the caller's own type, with its context). */
  fail?: (message: string) => Error;
}

/**
 * Runs `transfer` until it succeeds, fails for good, or has been tried `policy.attempts` times;
 * each retry is logged. An answer that is not transient (403, 404) fails at once, with its own
 * message; when the attempts are spent, the message says how many were made and why the last failed.
 * Other errors (the agent's disk) are thrown as they are, never retried.
 */
export async function withRetries<T>(what: string, transfer: (attempt: Attempt) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const policy = options.policy ?? transferPolicy();
  const log = options.log ?? ((m: string) => console.error(`[agent] ${m}`));
  const fail = options.fail ?? ((message: string) => new Error(message));
  for (let n = 1; ; n++) {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const progress = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new DOMException(`no progress for ${policy.idleTimeoutMs} ms`, 'TimeoutError')), policy.idleTimeoutMs);
      timer.unref();
    };
    progress();
    try {
      return await transfer({ signal: controller.signal, progress });
    } catch (err) {
      // A stream aborted by the watchdog may fail with an error of its own: the timeout is the reason.
      const cause = controller.signal.aborted ? (controller.signal.reason as Error) : err;
      if (!isTransient(cause)) throw cause instanceof TransferStatusError ? fail(cause.message) : cause;
      if (n >= policy.attempts) throw fail(`${what} failed after ${n} attempt(s): ${errorReason(cause)}`);
      const wait = backoffMs(policy, n);
      log(`${what} failed (${errorReason(cause)}); attempt ${n + 1} of ${policy.attempts} in ${wait} ms`);
      await sleep(wait);
    } finally {
      clearTimeout(timer);
    }
  }
}
