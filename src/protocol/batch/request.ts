import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { BatchSignedRequest } from '../../auth/batchSharedKey.js';
import { batchErrors } from '../../domain/batch/errors.js';
import type { Json } from '../../domain/batch/schema/validate.js';
import { readBoundedBody } from '../http/body.js';

/** A Batch REST request, parsed once. */
export interface BatchRequest extends BatchSignedRequest {
  raw: IncomingMessage;
  /** This request's id, answered as request-id. */
  id: string;
  /** Path segments, percent-decoded one by one (a file path's `%2F` stays inside its segment). */
  segments: string[];
  /** First value of each query parameter, by lower-cased name. */
  params: Map<string, string>;
  /** `http://host[:port]` as the client addressed us: the base of every URL we answer with. */
  baseUrl: string;
  /** The conditional headers the operation takes, read once routed (parameters.ts); none before. */
  conditions: Conditions;
  /** ocp-range, on the file GET operations that take it. */
  range?: { start: number; end?: number };
}

/** If-Match, If-None-Match (as sent) and the two date conditions (ms), for the operations that take them. */
export interface Conditions {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: number;
  ifUnmodifiedSince?: number;
}

export function parseBatchRequest(raw: IncomingMessage): BatchRequest {
  const url = raw.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query: [string, string][] = [...new URLSearchParams(q < 0 ? '' : url.slice(q + 1))];
  const params = new Map<string, string>();
  for (const [name, value] of query) if (!params.has(name.toLowerCase())) params.set(name.toLowerCase(), value);
  const headers: [string, string][] = [];
  for (let i = 0; i < raw.rawHeaders.length; i += 2) headers.push([raw.rawHeaders[i]!.toLowerCase(), raw.rawHeaders[i + 1]!]);
  const header = (name: string): string | undefined => {
    const v = raw.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  let segments: string[];
  try {
    segments = rawPath
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    throw batchErrors.invalidQuery('path', rawPath, 'The path is not correctly percent-encoded.');
  }
  return {
    raw,
    id: randomUUID(),
    method: raw.method ?? 'GET',
    rawPath,
    query,
    params,
    header,
    headers,
    segments,
    baseUrl: `http://${raw.headers.host ?? 'localhost'}`,
    conditions: {},
  };
}

/** Bodies over 1 MB are refused (the limit Azure states for addtaskcollection, applied to all). */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Reads a JSON request body whole; undefined when there is none. One over the limit is refused as
 * soon as that is known (from Content-Length, or once that much has arrived): the edge reads and
 * drops the rest for a while, so that the client hears the 413.
 */
export async function readJsonBody(req: BatchRequest): Promise<Json | undefined> {
  const declared = Number(req.header('content-length') ?? NaN);
  if (declared > MAX_BODY_BYTES) throw batchErrors.requestBodyTooLarge(MAX_BODY_BYTES);
  const bytes = await readBoundedBody(req.raw, MAX_BODY_BYTES, () => batchErrors.requestBodyTooLarge(MAX_BODY_BYTES));
  const text = bytes.toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw batchErrors.invalidBody(`The body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}
