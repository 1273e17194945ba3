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
  const standard = [
    headers['content-encoding'],
    headers['content-language'],
    length,
    headers['content-md5'],
    headers['content-type'],
    headers['date'],
    headers['if-modified-since'],
    headers['if-match'],
    headers['if-none-match'],
    headers['if-unmodified-since'],
    headers['range'],
  ].map((v) => v ?? '');
  const msHeaders = Object.entries(headers)
    .filter(([name]) => name.startsWith('x-ms-'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => `${name}:${value.trimStart()}\n`)
    .join('');
  const query = new Map<string, string[]>();
  for (const [name, value] of u.searchParams) query.set(name.toLowerCase(), [...(query.get(name.toLowerCase()) ?? []), value]);
  const resource =
    `/${ACCOUNT}${u.pathname}` +
    [...query.keys()]
      .sort()
      .map((name) => `\n${name}:${query.get(name)!.sort().join(',')}`)
      .join('');
  const stringToSign = `${method}\n${standard.join('\n')}\n${msHeaders}${resource}`;
  headers['authorization'] = `SharedKey ${ACCOUNT}:${sharedKeyCredential().computeHMACSHA256(stringToSign)}`;
  return fetch(url, { method, headers, body: init.body ? new Uint8Array(init.body) : undefined });
}
