import { ACCOUNT, sharedKeyCredential } from './kiln.js';

/**
 * A raw `fetch` signed with Shared Key as blob-api.md §4 describes, for requests the SDK will not make
 * (odd headers, stale dates). Written from the documented algorithm, independently of Kiln's verifier;
 * the HMAC comes from the SDK's own credential.
 */
export async function sharedKeyFetch(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: Buffer } = {},
  opts: { date?: Date | null } = {},
): Promise<Response> {
  const method = init.method ?? 'GET';
  const u = new URL(url);
  const headers: Record<string, string> = { 'x-ms-version': '2026-04-06' };
  if (opts.date !== null) headers['x-ms-date'] = (opts.date ?? new Date()).toUTCString();
  for (const [name, value] of Object.entries(init.headers ?? {})) headers[name.toLowerCase()] = value;
  // fetch adds Content-Length itself for a Buffer body (and no Content-Type); sign what it will send.
  const length = init.body && init.body.length > 0 ? String(init.body.length) : '';
  const signature = blobSharedKeySignature(method, u, { ...headers, 'content-length': length });
  headers['authorization'] = `SharedKey ${ACCOUNT}:${signature}`;
  return fetch(url, { method, headers, body: init.body ? new Uint8Array(init.body) : undefined });
}

/**
 * The Shared Key signature of a Blob request (blob-api.md §4), from its method, URL and lower-cased
 * headers: the documented algorithm, written independently of Kiln's verifier; the HMAC is the SDK's.
 */
export function blobSharedKeySignature(method: string, url: URL, headers: Record<string, string>): string {
  const standard = [
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
  ].map((name) => (name === 'content-length' && headers[name] === '0' ? '' : (headers[name] ?? '')));
  const msHeaders = Object.entries(headers)
    .filter(([name]) => name.startsWith('x-ms-'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}:${value.trimStart()}\n`)
    .join('');
  const query = new Map<string, string[]>();
  for (const [name, value] of url.searchParams) query.set(name.toLowerCase(), [...(query.get(name.toLowerCase()) ?? []), value]);
  const resource =
    `/${ACCOUNT}${url.pathname}` +
    [...query.keys()]
      .sort()
      .map((name) => `\n${name}:${query.get(name)!.sort().join(',')}`)
      .join('');
  return sharedKeyCredential().computeHMACSHA256(`${method}\n${standard.join('\n')}\n${msHeaders}${resource}`);
}
