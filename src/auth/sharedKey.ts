import type { Account } from '../config/accounts.js';
import { hmacSha256, signatureMatches } from './hmac.js';
import { HEADER_ORDERS } from './headerOrder.js';

/** What Shared Key verification reads of a request, exactly as received. */
export interface SignedRequest {
  method: string;
  /** The path as sent, still percent-encoded. */
  rawPath: string;
  /** Query parameters, decoded, in the order sent. */
  query: [string, string][];
  header(name: string): string | undefined;
  /** All x-ms-* headers, names lower-cased. */
  msHeaders: [string, string][];
}

/** The standard headers of a Shared Key string to sign (Blob and Batch alike), in order. */
export const STANDARD_HEADERS = [
  'content-encoding',
  'content-language',
  'content-length',
  'content-md5',
  'content-type',
  'date',
  'if-modified-since',
  'if-match',
  'if-none-match',
  'if-unmodified-since',
  'range',
] as const;

function canonicalHeaders(headers: [string, string][], compare: (a: string, b: string) => number): string {
  return [...headers]
    .sort(([a], [b]) => compare(a, b))
    .map(([name, value]) => `${name}:${value.trimStart()}\n`)
    .join('');
}

function canonicalResource(account: string, req: SignedRequest, dropEmptyValues: boolean): string {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of req.query) {
    if (dropEmptyValues && value === '') continue;
    const key = name.toLowerCase();
    grouped.set(key, [...(grouped.get(key) ?? []), value]);
  }
  const params = [...grouped.keys()]
    .sort()
    .map((key) => `\n${key}:${grouped.get(key)!.sort().join(',')}`)
    .join('');
  return `/${account}${req.rawPath}${params}`;
}

/**
 * The strings to sign that a correct client may have signed for this request, most likely first:
 * clients differ in how they sort x-ms-* headers and whether they sign empty query values.
 */
export function blobStringsToSign(account: string, req: SignedRequest): string[] {
  const standard = STANDARD_HEADERS.map((name) => {
    const value = req.header(name) ?? '';
    return name === 'content-length' && value === '0' ? '' : value;
  });
  const candidates = new Set<string>();
  for (const dropEmptyValues of [false, true]) {
    const resource = canonicalResource(account, req, dropEmptyValues);
    for (const order of HEADER_ORDERS) {
      candidates.add(`${req.method}\n${standard.join('\n')}\n${canonicalHeaders(req.msHeaders, order)}${resource}`);
    }
  }
  return [...candidates];
}

/** Parses `SharedKey ACCOUNT:SIGNATURE`. */
export function parseSharedKeyHeader(value: string): { account: string; signature: string } | undefined {
  const m = /^SharedKey ([^:\s]+):(\S+)$/.exec(value.trim());
  return m ? { account: m[1]!, signature: m[2]! } : undefined;
}

/** How far a Shared Key request's date may be from the server's clock (Azure: 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/**
 * Azure refuses a Shared Key request without a date (x-ms-date, else Date) or one more than 15 minutes
 * from its own clock, so that a captured request cannot be replayed later. Returns why, or undefined.
 */
export function requestDateProblem(req: Pick<SignedRequest, 'header'>, now: number): string | undefined {
  const value = req.header('x-ms-date') ?? req.header('date');
  if (value === undefined || value === '') return 'Request date header not specified.';
  const time = Date.parse(value);
  if (Number.isNaN(time)) return `Request date header is not a valid date: '${value}'.`;
  if (now - time > MAX_CLOCK_SKEW_MS) return `Request date header too old: '${value}'.`;
  if (time - now > MAX_CLOCK_SKEW_MS) return `Request date header is in the future: '${value}'.`;
  return undefined;
}

/** Verifies a Shared Key signature; on failure returns the primary string to sign, for the error detail. */
export function verifySharedKey(account: Account, signature: string, stringsToSign: string[]): { ok: true } | { ok: false; stringToSign: string } {
  for (const candidate of stringsToSign) {
    if (signatureMatches(hmacSha256(account.key, candidate), signature)) return { ok: true };
  }
  return { ok: false, stringToSign: stringsToSign[0] ?? '' };
}
