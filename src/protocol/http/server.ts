import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;

/**
 * The edge's clocks (configurable: `kiln up --header-timeout`, `--body-idle-timeout`). There is no
 * limit on a request's total time: a 5,000 MiB upload may take long, and the agents' command
 * stream is a response that lasts as long as the node. What is bounded is silence: a client that
 * holds a connection without completing a request head, or stops sending a body it announced.
 */
export interface HttpTimeouts {
  /** From a connection's start, or its previous answer, to a complete request head. */
  headersMs: number;
  /** The longest pause while a request body arrives. */
  bodyIdleMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 20_000, bodyIdleMs: 60_000 };

/** How long SIGTERM waits for requests in flight before it cuts them. */
export const DRAIN_MS = 10_000;
/** After an early answer (a 413, say), how long the rest of the body is read and dropped before closing. */
const LINGER_MS = 5_000;
const KEEP_ALIVE_MS = 5_000;

export interface ListenOptions {
  timeouts?: HttpTimeouts;
  /** The answer to a request that arrives while the server drains: the service's 503 ServerBusy. */
  busy?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

export interface RunningServer {
  server: http.Server;
  port: number;
  /** New requests get `busy` while those in flight finish: resolves when they have, or after `drainMs`. */
  drain(drainMs?: number): Promise<void>;
  /** Drains (if not yet done), then stops listening and closes every connection. */
  close(drainMs?: number): Promise<void>;
}

/** Whether the client is gone: nobody is left to answer (not an error of ours, not one to log). */
export const clientGone = (res: http.ServerResponse): boolean => res.destroyed || !res.socket || res.socket.destroyed;

const REQUEST_TIMEOUT_ANSWER = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/**
 * Arms the head deadline of a connection: it must deliver a complete request head in time. Node's
 * own headersTimeout only runs once a request has begun, so a connection that sends nothing, or
 * only blank lines, would otherwise be held for ever.
 */
function armHeadDeadline(socket: Socket, ms: number): NodeJS.Timeout {
  const timer = setTimeout(() => {
    if (socket.destroyed) return;
    socket.end(REQUEST_TIMEOUT_ANSWER);
    socket.destroySoon();
    setTimeout(() => socket.destroy(), 1000).unref();
  }, ms);
  timer.unref();
  return timer;
}

/** Per connection: the head deadline while no request is open, and how many are. */
interface ConnectionState {
  open: number;
  headTimer: NodeJS.Timeout | undefined;
  /** The answer being made, if any: a parse error of its body gets a 400 only if this has not begun. */
  current?: http.ServerResponse;
  /** An answer that ends the connection went out (417): a later parse error of the same bytes gets no second one. */
  closing?: boolean;
}

const hasBody = (req: http.IncomingMessage): boolean => !req.complete && (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0);

/**
 * The body's idle clock: the socket's inactivity timer while the body arrives, off again once it has
 * (a long answer, such as a command stream or a download, is not a body).
 */
function watchBody(req: http.IncomingMessage, res: http.ServerResponse, ms: number): void {
  if (!hasBody(req)) return;
  req.setTimeout(ms, () => {
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(408, { Connection: 'close', 'Content-Length': 0 }).end();
    }
    req.socket.destroySoon();
    setTimeout(() => req.socket.destroy(), 1000).unref();
  });
  const done = () => {
    if (!res.writableFinished && !req.socket.destroyed) req.socket.setTimeout(0);
  };
  req.once('end', done);
}

/**
 * When the answer is out before the body is in (413, an authentication failure), the connection
 * cannot carry another request: Node reads and drops the rest; this bounds how long.
 */
function lingerAfterEarlyAnswer(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.once('finish', () => {
    if (req.complete) return;
    const socket = req.socket;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

/** Starts an HTTP server on host:port (0 for any free port); resolves once it is listening. */
export async function listen(
  handler: Handler,
  host: string,
  port: number,
  onError: (err: unknown, res: http.ServerResponse) => void,
  options: ListenOptions = {},
): Promise<RunningServer> {
  const timeouts = options.timeouts ?? DEFAULT_HTTP_TIMEOUTS;
  const connections = new Map<Socket, ConnectionState>();
  let inFlight = 0;
  let draining = false;
  let drained: (() => void) | undefined;
  let drainedAll: Promise<void> | undefined;

  const server = http.createServer(
    {
      keepAliveTimeout: Math.min(KEEP_ALIVE_MS, timeouts.headersMs),
      // Node's own head clock, for a request that has begun; ours (armHeadDeadline) covers the rest.
      headersTimeout: timeouts.headersMs,
      requestTimeout: 0,
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(timeouts.headersMs / 2))),
    },
    (req, res) => {
      const state = connections.get(req.socket);
      if (state) {
        state.open++;
        state.current = res;
        clearTimeout(state.headTimer);
        state.headTimer = undefined;
      }
      inFlight++;
      res.once('close', () => {
        inFlight--;
        if (state) {
          state.open--;
          if (state.current === res) state.current = undefined;
          if (state.open === 0 && !req.socket.destroyed) state.headTimer = armHeadDeadline(req.socket, timeouts.headersMs);
        }
        if (draining && inFlight === 0) drained?.();
      });
      watchBody(req, res, timeouts.bodyIdleMs);
      lingerAfterEarlyAnswer(req, res);
      if (draining) {
        res.shouldKeepAlive = false;
        if (options.busy) options.busy(req, res);
        else res.writeHead(503, { Connection: 'close', 'Content-Length': 0 }).end();
        return;
      }
      Promise.resolve()
        .then(() => handler(req, res))
        .catch((err: unknown) => onError(err, res));
    },
  );
  server.on('connection', (socket: Socket) => {
    const state: ConnectionState = { open: 0, headTimer: armHeadDeadline(socket, timeouts.headersMs) };
    connections.set(socket, state);
    socket.once('close', () => {
      clearTimeout(state.headTimer);
      connections.delete(socket);
    });
  });
  // An Expect other than 100-continue: 417, as HTTP says, and the connection ends (its body is not read).
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const state = connections.get(req.socket);
    if (state) state.closing = true;
    res.writeHead(417, { Connection: 'close', 'Content-Length': 0 }).end();
  });
  // A request Node cannot parse (bad request line, bad header, oversized head) gets its 4xx, not a reset;
  // unless an answer is already on its way on that connection (a second one would garble it).
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const state = connections.get(socket);
    if (!socket.writable || err.code === 'ECONNRESET' || state?.current?.headersSent) {
      socket.destroy();
      return;
    }
    // Once the connection closes, bytes the client still sends would reset it, and with it our answer.
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
    if (state?.closing) {
      // The answer is written already: close after it.
      socket.end();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const running: RunningServer = {
    server,
    port: (server.address() as AddressInfo).port,
    drain(drainMs = DRAIN_MS) {
      // Keep listening, so that new requests hear 503 ServerBusy rather than a refused connection.
      drainedAll ??= new Promise<void>((resolve) => {
        draining = true;
        server.closeIdleConnections();
        if (inFlight === 0) return resolve();
        drained = resolve;
        setTimeout(resolve, drainMs).unref();
      });
      return drainedAll;
    },
    async close(drainMs = DRAIN_MS) {
      await running.drain(drainMs);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of connections.keys()) socket.destroy();
      });
    },
  };
  return running;
}
