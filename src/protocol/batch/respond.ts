import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BatchError } from '../../domain/batch/errors.js';

export type Headers = Record<string, string | number | undefined>;

export const JSON_TYPE = 'application/json;odata=minimalmetadata';

/** RFC 1123, as Batch writes dates in headers. */
export const httpDate = (iso: string | number): string => new Date(iso).toUTCString();

/** What every Batch answer carries, and the three shapes of answer: JSON, empty, a file's bytes. */
export interface Responder {
  json(status: number, body: string | object, headers?: Headers): void;
  empty(status: number, headers?: Headers): void;
  stream(status: number, headers: Headers, body: Readable | undefined): Promise<void>;
  error(err: BatchError): void;
  /** Whether an answer was given (it may still wait for `beforeAnswer`). */
  readonly answered: boolean;
  /** Settles once the answer is written. */
  written(): Promise<void>;
}

export interface ResponderOptions {
  requestId: string;
  clientRequestId?: string;
  baseUrl: string;
  isHead: boolean;
  /** Awaited before a JSON or empty answer is written: the store's flush, so that an answered change is on disk. */
  beforeAnswer?: () => Promise<void>;
  /** A failed `beforeAnswer`: the change may not be durable, so no success is sent. */
  onAnswerFailed?: (err: unknown) => void;
}

export function createResponder(res: ServerResponse, opts: ResponderOptions): Responder {
  const writeHead = (status: number, headers: Headers) => {
    const all: Record<string, string | number> = {
      'request-id': opts.requestId,
      DataServiceVersion: '3.0',
      Date: new Date().toUTCString(),
      Server: 'Kiln-Batch/0.1',
    };
    if (opts.clientRequestId !== undefined) all['client-request-id'] = opts.clientRequestId;
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) all[k] = v;
    res.writeHead(status, all);
  };
  let answered = false;
  let written: Promise<void> = Promise.resolve();
  const answer = (write: () => void): void => {
    // One answer a request: a handler that answered and then failed has answered.
    if (answered) return;
    answered = true;
    if (!opts.beforeAnswer) return write();
    written = opts.beforeAnswer().then(
      () => {
        if (!res.destroyed) write();
      },
      (err: unknown) => {
        opts.onAnswerFailed?.(err);
        res.destroy();
      },
    );
  };
  const responder: Responder = {
    get answered() {
      return answered || res.headersSent;
    },
    written: () => written,
    json(status, body, headers = {}) {
      const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
      answer(() => {
        writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': bytes.length, ...headers });
        res.end(opts.isHead ? undefined : bytes);
      });
    },
    empty(status, headers = {}) {
      answer(() => {
        writeHead(status, { 'Content-Length': 0, ...headers });
        res.end();
      });
    },
    async stream(status, headers, body) {
      answered = true;
      writeHead(status, headers);
      if (opts.isHead || !body) {
        body?.destroy();
        res.end();
        return;
      }
      await pipeline(body, res);
    },
    error(err) {
      if (err.status === 304) {
        answer(() => {
          writeHead(304, {});
          res.end();
        });
        return;
      }
      const body = {
        'odata.metadata': `${opts.baseUrl}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element`,
        code: err.code,
        message: { lang: 'en-US', value: `${err.message}\nRequestId:${opts.requestId}\nTime:${new Date().toISOString()}` },
        ...(err.values.length > 0 ? { values: err.values.map(([key, value]) => ({ key, value })) } : {}),
      };
      responder.json(err.status, body);
    },
  };
  return responder;
}
