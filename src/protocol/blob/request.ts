import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { AccountRegistry } from '../../config/accounts.js';
import { errors } from '../../domain/blob/errors.js';
import type { Conditions } from '../../domain/blob/conditions.js';
import type { ContentProperties, Metadata } from '../../domain/blob/models.js';

/** A Blob REST request, parsed once: who it addresses and what it says. */
export interface BlobRequest {
  raw: IncomingMessage;
  id: string;
  method: string;
  rawPath: string;
  /** Query parameters, decoded, in the order sent (a signature needs them so). */
  query: [string, string][];
  params: Map<string, string>;
  account: string;
  container: string | undefined;
  blob: string | undefined;
  /** Base URL of this account, for URLs in responses. */
  accountUrl: string;
  header(name: string): string | undefined;
  msHeaders: [string, string][];
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw errors.invalidResourceName();
  }
}

/**
 * Path style (`/ACCOUNT/CONTAINER/BLOB`, what emulator clients send) or host style
 * (`ACCOUNT.blob.DOMAIN/CONTAINER/BLOB`, when the first label of a host name is a known account).
 */
export function parseBlobRequest(req: IncomingMessage, accounts: AccountRegistry): BlobRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const query: [string, string][] = [...new URLSearchParams(q < 0 ? '' : url.slice(q + 1))];
  const host = req.headers.host ?? 'localhost';
  const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const firstLabel = hostname.split('.')[0] ?? '';
  const segments = rawPath.split('/').slice(1);
  const hostStyle = !isIP(hostname) && hostname.includes('.') && accounts.get(firstLabel) !== undefined && accounts.get(decodeSegment(segments[0] ?? '')) === undefined;
  const account = hostStyle ? firstLabel : decodeSegment(segments.shift() ?? '');
  const containerSegment = segments.shift();
  const container = containerSegment ? decodeSegment(containerSegment) : undefined;
  const blobPath = segments.join('/');
  const blob = blobPath ? decodeSegment(blobPath) : undefined;
  const headers = req.headers;
  const header = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };
  const msHeaders: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-ms-') && value !== undefined) msHeaders.push([name, Array.isArray(value) ? value.join(',') : value]);
  }
  return {
    raw: req,
    id: randomUUID(),
    method: req.method ?? 'GET',
    rawPath,
    query,
    params: new Map(query.map(([k, v]) => [k.toLowerCase(), v])),
    account,
    container,
    blob,
    accountUrl: hostStyle ? `http://${host}` : `http://${host}/${account}`,
    header,
    msHeaders,
  };
}

/** x-ms-meta-* headers, with the case the client wrote (Node lower-cases `headers`, not `rawHeaders`). */
export function readMetadata(req: BlobRequest): Metadata {
  const metadata: Metadata = {};
  const raw = req.raw.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    // Defined, not assigned: `metadata['__proto__'] = v` would set the prototype and lose the entry.
    if (name.length > 10 && name.slice(0, 10).toLowerCase() === 'x-ms-meta-') {
      Object.defineProperty(metadata, name.slice(10), { value: raw[i + 1]!, enumerable: true, writable: true, configurable: true });
    }
  }
  return metadata;
}

function parseDate(req: BlobRequest, name: string): number | undefined {
  const value = req.header(name);
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw errors.invalidHeader(name, value);
  return time;
}

export function readConditions(req: BlobRequest): Conditions {
  return {
    ifMatch: req.header('if-match'),
    ifNoneMatch: req.header('if-none-match'),
    ifModifiedSince: parseDate(req, 'if-modified-since'),
    ifUnmodifiedSince: parseDate(req, 'if-unmodified-since'),
  };
}

/** A copy's conditions on its source: x-ms-source-if-*. */
export function readSourceConditions(req: BlobRequest): Conditions {
  return {
    ifMatch: req.header('x-ms-source-if-match'),
    ifNoneMatch: req.header('x-ms-source-if-none-match'),
    ifModifiedSince: parseDate(req, 'x-ms-source-if-modified-since'),
    ifUnmodifiedSince: parseDate(req, 'x-ms-source-if-unmodified-since'),
  };
}

/** The blob's content properties from x-ms-blob-* headers (on Put Blob, Content-Type of the request too). */
export function readContentProperties(req: BlobRequest, requestHeadersDescribeBlob: boolean): ContentProperties {
  const pick = (blobHeader: string, requestHeader: string) => req.header(blobHeader) ?? (requestHeadersDescribeBlob ? req.header(requestHeader) : undefined);
  return {
    contentType: pick('x-ms-blob-content-type', 'content-type'),
    contentEncoding: pick('x-ms-blob-content-encoding', 'content-encoding'),
    contentLanguage: pick('x-ms-blob-content-language', 'content-language'),
    contentDisposition: pick('x-ms-blob-content-disposition', 'content-disposition'),
    cacheControl: pick('x-ms-blob-cache-control', 'cache-control'),
    contentMd5: req.header('x-ms-blob-content-md5'),
  };
}

/** The version the client speaks: any date-like string, unknown newer ones included. */
export function readVersion(req: BlobRequest): string | undefined {
  const version = req.header('x-ms-version');
  if (version !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(version)) throw errors.invalidHeader('x-ms-version', version);
  return version;
}

/** x-ms-source-range of Put Block From URL: `bytes=START-END` or `bytes=START-`, as the SDKs send it. */
export function readSourceRange(req: BlobRequest): string | undefined {
  const value = req.header('x-ms-source-range');
  if (value === undefined) return undefined;
  const m = /^bytes=(\d+)-(\d*)$/.exec(value.trim());
  if (!m || (m[2] !== '' && Number(m[2]) < Number(m[1]))) throw errors.invalidHeader('x-ms-source-range', value);
  return value.trim();
}

/** A true/false header, `fallback` when absent. */
export function readBooleanHeader(req: BlobRequest, name: string, fallback: boolean): boolean {
  const value = req.header(name);
  if (value === undefined || value === '') return fallback;
  if (!/^(true|false)$/i.test(value)) throw errors.invalidHeader(name, value);
  return value.toLowerCase() === 'true';
}
