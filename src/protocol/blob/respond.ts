import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { StorageError } from '../../domain/blob/errors.js';
import type { Metadata } from '../../domain/blob/models.js';
import { errorXml } from './xml.js';

/** What the Blob service answers on every response. */
export const DEFAULT_VERSION = '2025-11-05';

export type Headers = Record<string, string | number | undefined>;

export interface Responder {
  /** Answers with the status, the common headers, `headers`, and an optional body. */
  send(status: number, headers?: Headers, body?: string | Buffer): void;
  stream(status: number, headers: Headers, body: Readable): Promise<void>;
  error(err: StorageError): void;
}

export const httpDate = (ms: number): string => new Date(ms).toUTCString();

export function metadataHeaders(metadata: Metadata): Headers {
  const headers: Headers = {};
  for (const [name, value] of Object.entries(metadata)) headers[`x-ms-meta-${name}`] = value;
  return headers;
}

export function createResponder(res: ServerResponse, requestId: string, clientRequestId: string | undefined, version: () => string, isHead: boolean): Responder {
  const common = (): Headers => ({
    'x-ms-request-id': requestId,
    'x-ms-version': version(),
    'x-ms-client-request-id': clientRequestId,
    Date: httpDate(Date.now()),
    Server: 'Kiln-Blob/0.1',
  });
  const writeHead = (status: number, headers: Headers, reason?: string) => {
    const all: Record<string, string | number> = {};
    for (const [k, v] of Object.entries({ ...common(), ...headers })) if (v !== undefined) all[k] = v;
    if (reason) res.writeHead(status, reason.replace(/[^\x20-\x7e]/g, ' '), all);
    else res.writeHead(status, all);
  };
  return {
    send(status, headers = {}, body) {
      const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
      writeHead(status, { 'Content-Length': bytes?.length ?? 0, ...headers });
      res.end(isHead ? undefined : bytes);
    },
    async stream(status, headers, body) {
      writeHead(status, headers);
      if (isHead) {
        body.destroy();
        res.end();
        return;
      }
      await pipeline(body, res);
    },
    error(err) {
      const headers: Headers = { 'x-ms-error-code': err.code };
      if (err.status === 304) {
        writeHead(304, headers);
        res.end();
        return;
      }
      const body = Buffer.from(errorXml(err, requestId), 'utf8');
      writeHead(err.status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': body.length }, err.message);
      res.end(isHead ? undefined : body);
    },
  };
}
