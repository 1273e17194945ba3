import type { Account } from '../config/accounts.js';
import { hmacSha256, signatureMatches } from './hmac.js';
import { STANDARD_HEADERS } from './sharedKey.js';

/**
 * Shared Key for Batch (shared/docs/batch-api.md §1). The string to sign is built from the headers
 * exactly as received: clients disagree on what they send (JS signs a Content-Type on GET, Python
 * a Content-Length of 0 on DELETE), and signing what arrived matches all of them.
 */
export interface BatchSignedRequest {
  method: string;
  /** The path as sent on the request line, still percent-encoded. */
  rawPath: string;
  /** Query parameters, decoded, in the order sent. */
  query: [string, string][];
  header(name: string): string | undefined;
  /** Every header as [lower-cased name, value]. */
  headers: [string, string][];
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function canonicalizedOcpHeaders(req: BatchSignedRequest): string {
  return req.headers
    .filter(([name, value]) => name.startsWith('ocp-') && value !== '')
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([name, value]) => `${name}:${value}\n`)
    .join('');
}

function canonicalizedResource(account: string, req: BatchSignedRequest, dropEmptyValues: boolean): string {
  const first = new Map<string, string>();
  for (const [name, value] of req.query) {
    if (dropEmptyValues && value === '') continue;
    if (!first.has(name)) first.set(name, value);
  }
  const params = [...first.keys()].sort(byCodeUnit).map((name) => `\n${name}:${first.get(name)!}`);
  return `/${account}${req.rawPath}${params.join('')}`;
}

/**
 * The strings a correct client may have signed, most likely first. They differ only when a query
 * parameter is empty: the JS SDK signs it as `name:`, Python leaves it out.
 */
export function batchStringsToSign(account: string, req: BatchSignedRequest): string[] {
  const standard = STANDARD_HEADERS.map((name) => req.header(name) ?? '').join('\n');
  const head = `${req.method}\n${standard}\n${canonicalizedOcpHeaders(req)}`;
  const candidates = [head + canonicalizedResource(account, req, false)];
  if (req.query.some(([, value]) => value === '')) candidates.push(head + canonicalizedResource(account, req, true));
  return candidates;
}

/** Parses `SharedKey ACCOUNT:SIGNATURE`; the account is the part before the last colon. */
export function parseBatchAuthorization(value: string): { account: string; signature: string } | undefined {
  const m = /^SharedKey\s+(\S+):([A-Za-z0-9+/=]+)$/.exec(value.trim());
  return m ? { account: m[1]!, signature: m[2]! } : undefined;
}

export type BatchAuthResult = { ok: true } | { ok: false; stringToSign: string };

/** Checks a signature against every candidate string to sign, in constant time per comparison. */
export function verifyBatchSignature(account: Account, signedName: string, signature: string, req: BatchSignedRequest): BatchAuthResult {
  // The account name inside the canonicalized resource is the one the client was configured with,
  // case kept: the name in its Authorization header.
  const candidates = batchStringsToSign(signedName, req);
  for (const candidate of candidates) {
    if (signatureMatches(hmacSha256(account.key, candidate), signature)) return { ok: true };
  }
  return { ok: false, stringToSign: candidates[0]! };
}
