import http from 'node:http';
import { BatchSharedKeyCredentials } from '@azure/batch';
import { WebResource } from '@azure/ms-rest-js';
import { ACCOUNT, KEY } from './kiln.js';

export const API_VERSION = '2022-10-01.16.0';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): any;
}

export interface RawRequest {
  body?: string | object;
  headers?: Record<string, string>;
  /** Query string after api-version (already encoded), e.g. `$filter=...`. */
  query?: string;
  /** Leave out api-version. */
  noApiVersion?: boolean;
  /** Sign with this key instead of the account's (a bad signature). */
  key?: string;
  /** Send no Authorization header at all. */
  unsigned?: boolean;
}

/**
 * One raw HTTP request to the Batch service, signed by the SDK's own BatchSharedKeyCredentials:
 * for the status codes and headers the SDK would hide or refuse to send.
 */
export async function batchRequest(baseUrl: string, method: string, path: string, opts: RawRequest = {}): Promise<RawResponse> {
  const query = [opts.noApiVersion ? '' : `api-version=${API_VERSION}`, opts.query ?? ''].filter(Boolean).join('&');
  const url = `${baseUrl}${path}${query ? `?${query}` : ''}`;
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (body !== undefined) {
    headers['Content-Type'] ??= 'application/json; odata=minimalmetadata; charset=utf-8';
    headers['Content-Length'] = String(Buffer.byteLength(body));
  } else if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
    // Node's http client sends Content-Length: 0 for these; sign what goes on the wire.
    headers['Content-Length'] = '0';
  }
  const resource = new WebResource(url, method as never, body, undefined, headers);
  if (!opts.unsigned) await new BatchSharedKeyCredentials(ACCOUNT, opts.key ?? KEY).signRequest(resource);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: resource.headers.rawHeaders() }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Asserts the BatchError body Azure answers with; returns it. */
export function batchErrorOf(res: RawResponse): { code: string; message: { lang: string; value: string }; values?: { key: string; value: string }[] } {
  const body = res.json();
  if (typeof body.code !== 'string' || body.message?.lang !== 'en-US' || typeof body.message?.value !== 'string') {
    throw new Error(`not a BatchError body: ${res.text}`);
  }
  if (!String(body['odata.metadata']).endsWith('$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element')) {
    throw new Error(`BatchError without odata.metadata: ${res.text}`);
  }
  return body;
}
