import net from 'node:net';
import { BatchSharedKeyCredentials } from '@azure/batch';
import { WebResource } from '@azure/ms-rest-js';
import { ACCOUNT, KEY } from '../helpers/kiln.js';

export interface RawAnswer {
  /** The status of the first answer, if one came. */
  status?: number;
  text: string;
  /** Whether the server closed (or reset) the connection before the test's deadline. */
  closed: boolean;
  /** How long after connecting the server closed it. */
  closedAfterMs?: number;
}

/**
 * A raw TCP client for what no HTTP client sends: partial heads, blank lines, stalled bodies. It
 * writes `first`, then calls `more` (which may keep writing, slowly) and collects what the server
 * says until the server closes or `deadlineMs` passes.
 */
export function rawConnection(port: number, first: string | Buffer, opts: { deadlineMs: number; more?: (socket: net.Socket) => void; stopAtAnswer?: boolean }): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : undefined, text, closed, closedAfterMs: closed ? Date.now() - started : undefined });
    };
    const timer = setTimeout(() => finish(false), opts.deadlineMs);
    socket.on('connect', () => {
      socket.write(first);
      opts.more?.(socket);
    });
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (opts.stopAtAnswer && /\r\n\r\n/.test(text)) finish(true);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** Writes `chunk` every `everyMs` until the socket closes or `count` chunks went out. */
export function trickle(socket: net.Socket, chunk: string | Buffer, everyMs: number, count = Infinity): void {
  let sent = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || sent >= count) {
      clearInterval(timer);
      return;
    }
    sent++;
    socket.write(chunk);
  }, everyMs);
  socket.once('close', () => clearInterval(timer));
}

/** The head of a Batch request signed with the dev key, for bodies a raw connection then sends (or does not). */
export async function signedBatchHead(batchUrl: string, method: string, pathAndQuery: string, headers: Record<string, string>): Promise<string> {
  const resource = new WebResource(`${batchUrl}${pathAndQuery}`, method as never, undefined, undefined, { ...headers });
  await new BatchSharedKeyCredentials(ACCOUNT, KEY).signRequest(resource);
  const lines = Object.entries(resource.headers.rawHeaders()).map(([name, value]) => `${name}: ${value}\r\n`);
  return `${method} ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines.join('')}\r\n`;
}
