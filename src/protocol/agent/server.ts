import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyAgentToken, type TokenClaims } from '../../auth/agentTokens.js';
import { AgentApiError, type Cluster } from '../../cluster/cluster.js';
import type { AccountRegistry } from '../../config/accounts.js';
import { AGENT_PREFIX, FILE_RESULT_HEADER, type FileResult, type JoinRequest, type ReportsRequest } from './messages.js';

const MAX_BODY = 8 << 20;

async function readJson<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new AgentApiError(413, 'body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
  } catch {
    throw new AgentApiError(400, 'body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A node's command stream: one JSON line per batch of commands, an empty line as heartbeat. */
function openStream(cluster: Cluster, claims: TokenClaims, res: ServerResponse): void {
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  // Commands queued while the node was away are written as the stream opens, before the headers
  // are: hold them until then (a write first would send default headers, and writeHead would throw).
  let early: string[] | undefined = [];
  const write = (line: string) => (early ? early.push(line) : res.write(line));
  // Throws (409, 404) before anything is written when the node has no session.
  cluster.openCommandStream(claims, { write: (commands) => write(`${JSON.stringify(commands)}\n`), end: () => res.end() }, closed);
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  for (const line of early) res.write(line);
  early = undefined;
  res.socket?.setNoDelay(true);
  const heartbeat = setInterval(() => res.write('\n'), cluster.timings.heartbeatMs);
  void closed.then(() => clearInterval(heartbeat));
}

/**
 * The node agent protocol over HTTP (see messages.ts). Every call carries a bearer token: a pool's
 * join token for joining, the node's own token after that. Nothing here is reachable with Shared
 * Key or a SAS, and no Batch API call is reachable with these tokens.
 */
export function createAgentHandler(cluster: Cluster, accounts: AccountRegistry) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const auth = req.headers.authorization ?? '';
      const claims = auth.startsWith('Bearer ') ? verifyAgentToken(auth.slice(7), (name) => accounts.get(name)) : undefined;
      if (!claims) throw new AgentApiError(401, 'a valid agent token is required');
      const url = new URL(req.url ?? '/', 'http://agent');
      const path = url.pathname.slice(AGENT_PREFIX.length).split('/').map(decodeURIComponent);
      // /pools/{pool}/nodes  |  /nodes/{node}/commands  |  /nodes/{node}/reports  |  /nodes/{node}/files/{id}
      if (req.method === 'POST' && path[1] === 'pools' && path[3] === 'nodes' && path.length === 4) {
        if (claims.nodeId !== undefined || path[2]!.toLowerCase() !== claims.poolId.toLowerCase()) throw new AgentApiError(403, 'this token may not join that pool');
        send(res, 200, cluster.join(claims, await readJson<JoinRequest>(req)));
        return;
      }
      if (path[1] !== 'nodes' || claims.nodeId === undefined || path[2] !== claims.nodeId) throw new AgentApiError(403, 'this token is not for that node');
      if (req.method === 'GET' && path[3] === 'commands') {
        openStream(cluster, claims, res);
        return;
      }
      if (req.method === 'POST' && path[3] === 'files' && path[4]) {
        const result = JSON.parse(String(req.headers[FILE_RESULT_HEADER] ?? '{"ok":false,"error":"failed","message":"no result"}')) as FileResult;
        const finished = new Promise<void>((resolve) => {
          if (!cluster.files.answer(path[4]!, { result, body: req, finish: resolve })) resolve();
        });
        await finished;
        send(res, 200, {});
        return;
      }
      if (req.method === 'POST' && path[3] === 'reports') {
        const body = await readJson<ReportsRequest>(req);
        if (!Array.isArray(body.reports)) throw new AgentApiError(400, 'reports must be a list');
        if (body.running !== undefined && !(Array.isArray(body.running) && body.running.every((r) => typeof r === 'string'))) {
          throw new AgentApiError(400, 'running must be a list of run ids');
        }
        cluster.report(claims, body);
        send(res, 200, {});
        return;
      }
      throw new AgentApiError(404, 'no such agent call');
    } catch (err) {
      if (err instanceof AgentApiError) send(res, err.status, { error: err.message });
      else if (!res.headersSent) send(res, 500, { error: String(err) });
    }
  };
}
