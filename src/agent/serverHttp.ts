import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

/** An answer of the server: its status and body. */
export interface ServerAnswer {
  status: number;
  text: string;
}

/**
 * The agent's HTTP client for the agent protocol, on node:http with kept-alive connections. Not
 * fetch: a report call through fetch costs the agent about 0.4 ms more CPU than through node:http,
 * and the command stream read through a web ReadableStream more again, on every task
 * (docs/benchmarks.md). Failures are thrown as fetch throws them ("… failed", the socket's error as
 * `cause`), which is what errorReason and isTransient read (transfers.ts).
 */
export class ServerHttp {
  private readonly base: URL;
  private readonly module: typeof http | typeof https;
  private readonly agent: http.Agent;

  constructor(serverUrl: string) {
    this.base = new URL(serverUrl.replace(/\/$/, ''));
    this.module = this.base.protocol === 'https:' ? https : http;
    this.agent = new this.module.Agent({ keepAlive: true });
  }

  /** One call, its answer read whole; `timeoutMs` bounds the whole of it. */
  call(method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<ServerAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.request(method, path, body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error('The call timed out'), { name: 'TimeoutError' })), timeoutMs);
      timer.unref();
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err.name === 'TimeoutError' ? err : Object.assign(new Error(`${method} ${path} failed`), { cause: err }));
      };
      req.once('error', fail);
      req.once('response', (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('error', fail);
        res.once('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text });
        });
      });
      req.end(body);
    });
  }

  /** A GET whose answer is read as it comes (the command stream); `signal` ends it. */
  open(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(Object.assign(new Error('The stream was closed'), { name: 'AbortError' }));
      const req = this.request('GET', path, headers);
      const abort = () => req.destroy(Object.assign(new Error('The stream was closed'), { name: 'AbortError' }));
      signal.addEventListener('abort', abort, { once: true });
      req.once('error', (err) => {
        signal.removeEventListener('abort', abort);
        reject(err.name === 'AbortError' ? err : Object.assign(new Error(`GET ${path} failed`), { cause: err }));
      });
      req.once('response', (res) => {
        res.once('close', () => signal.removeEventListener('abort', abort));
        resolve(res);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private request(method: string, path: string, headers: Record<string, string>): http.ClientRequest {
    return this.module.request(new URL(this.base.pathname.replace(/\/$/, '') + path, this.base), { method, headers, agent: this.agent });
  }
}
