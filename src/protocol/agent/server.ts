import type { IncomingMessage, ServerResponse } from 'node:http';
import { readAgentToken, type NodeClaims } from '../../auth/agentTokens.js';
import type { Cluster } from '../../cluster/cluster.js';
import type { AccountRegistry } from '../../config/accounts.js';
import { readBoundedBody } from '../http/body.js';
import { clientGone } from '../http/server.js';
import { AgentApiError } from './errors.js';
import { AGENT_PREFIX, FILE_RESULT_HEADER } from './messages.js';
import { checkFileResult, checkJoinRequest, checkReportsRequest } from './validate.js';

const MAX_BODY = 8 << 20;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBoundedBody(req, MAX_BODY, () => new AgentApiError(413, 'body too large'));
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
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
async function openStream(cluster: Cluster, claims: NodeClaims, res: ServerResponse): Promise<void> {
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  // Commands queued while the node was away are written as the stream opens, before the headers
  // are: hold them until then (a write first would send default headers, and writeHead would throw).
  let early: string[] | undefined = [];
  const write = (line: string) => (early ? early.push(line) : res.write(line));
  // Throws (401, 409) before anything is written when the token is not of the node's live session.
  await cluster.openCommandStream(claims, { write: (commands) => write(`${JSON.stringify(commands)}\n`), end: () => res.end() }, closed);
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  for (const line of early) res.write(line);
  early = undefined;
  res.socket?.setNoDelay(true);
  const heartbeat = setInterval(() => res.write('\n'), cluster.timings.heartbeatMs);
  void closed.then(() => clearInterval(heartbeat));
}

/** The path's segments after the prefix, decoded; a malformed escape is the client's error. */
function segments(rawUrl: string | undefined): string[] {
  try {
    return new URL(rawUrl ?? '/', 'http://agent').pathname.slice(AGENT_PREFIX.length).split('/').map(decodeURIComponent);
  } catch {
    throw new AgentApiError(400, 'the path is not a valid URL path');
  }
}

/**
 * The node agent protocol over HTTP (see messages.ts). Every call carries a bearer token: a pool's
 * join token for joining, the node token of the node's current session after that. Nothing here
 * is reachable with Shared Key or a SAS, and no Batch API call is reachable with these tokens.
 * Every message is checked (validate.ts): whatever a token holder sends, the answer is a 4xx with
 * Kiln's own message, or the call's answer; an unexpected fault is logged and answers a bare 500.
 */
export function createAgentHandler(cluster: Cluster, accounts: AccountRegistry, durable: () => Promise<void> = () => Promise.resolve()) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const auth = req.headers.authorization ?? '';
      const claims = auth.startsWith('Bearer ') ? readAgentToken(auth.slice(7), (name) => accounts.get(name)) : undefined;
      if (!claims) throw new AgentApiError(401, 'a valid agent token is required');
      const path = segments(req.url);
      // /pools/{pool}/nodes  |  /nodes/{node}/commands  |  /nodes/{node}/reports  |  /nodes/{node}/files/{id}
      if (req.method === 'POST' && path[1] === 'pools' && path[3] === 'nodes' && path.length === 4) {
        if (claims.kind !== 'join' || path[2]!.toLowerCase() !== claims.poolId.toLowerCase()) throw new AgentApiError(403, 'this token may not join that pool');
        const joined = await cluster.join(claims, checkJoinRequest(await readJson(req)), req.socket.remoteAddress);
        // The node's session secret must outlive a power loss before the agent relies on it.
        await durable();
        send(res, 200, joined);
        return;
      }
      if (path[1] !== 'nodes' || claims.kind !== 'node' || path[2] !== claims.nodeId) throw new AgentApiError(403, 'this token is not for that node');
      if (req.method === 'GET' && path[3] === 'commands' && path.length === 4) {
        await openStream(cluster, claims, res);
        return;
      }
      if (req.method === 'POST' && path[3] === 'files' && path[4] && path.length === 5) {
        const result = checkFileResult(req.headers[FILE_RESULT_HEADER]);
        await new Promise<void>((resolve, reject) => {
          cluster.answerFiles(claims, path[4]!, { result, body: req, finish: resolve }).catch(reject);
        });
        send(res, 200, {});
        return;
      }
      if (req.method === 'POST' && path[3] === 'reports' && path.length === 4) {
        const answer = await cluster.report(claims, checkReportsRequest(await readJson(req)));
        // The agent forgets what it reported once answered: the results must be on disk by then.
        await durable();
        send(res, 200, answer);
        return;
      }
      throw new AgentApiError(404, 'no such agent call');
    } catch (err) {
      // A refused request's body is not read: drain it, so that the answer reaches the client.
      if (!req.readableEnded) req.resume();
      if (clientGone(res)) return;
      if (res.headersSent) {
        res.destroy();
      } else if (err instanceof AgentApiError) {
        send(res, err.status, { error: err.message });
      } else {
        cluster.ctx.log(`agent protocol: ${req.method} ${req.url?.split('?')[0]} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        send(res, 500, { error: 'internal error' });
      }
    }
  };
}
