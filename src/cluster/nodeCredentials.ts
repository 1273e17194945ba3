import { newNodeToken, parseNodeToken, secretMatches, type NodeClaims } from '../auth/agentTokens.js';
import type { CloudPool, ComputeNode } from '../domain/batch/models.js';
import { AgentApiError } from '../protocol/agent/errors.js';
import type { ClusterContext } from './context.js';
import type { NodeSession } from './session.js';

/**
 * Which session may act as a node. Each join hands out a node token with a fresh secret; the node
 * record keeps the secret's hash (an internal `_` property the API never shows), so the store of
 * any server, restarted or not, can tell the node's current session from an old one or a forgery.
 */
const SECRET_HASH = '_sessionSecretHash';

export const storedSecretHash = (node: ComputeNode): string | undefined => node[SECRET_HASH] as string | undefined;

/** A new session secret for this node: its hash goes on the record (the caller saves it); the token to the agent. */
export function newSessionOf(account: string, pool: CloudPool, node: ComputeNode): { token: string; secretHash: string } {
  const issued = newNodeToken(account, pool.id, node.id);
  node[SECRET_HASH] = issued.secretHash;
  return issued;
}

/**
 * A token for the first join of an agent the server starts itself (kiln up's local nodes): the
 * node's record exists already, and only the process given this token can take it. It also ends
 * any older session of the node, whose agent is gone.
 */
export async function issueLocalNodeToken(cluster: ClusterContext, account: string, poolPk: number, nodeId: string): Promise<string> {
  return await cluster.store.tx(async () => {
    const pool = await cluster.store.pools.getByPk(poolPk);
    const node = await cluster.store.nodes.get(poolPk, nodeId);
    if (!pool || !node) throw new Error(`node ${nodeId} has no record to issue a token for`);
    const { token, secretHash } = newSessionOf(account, pool.doc, node.doc);
    // Not saveNode: an internal property changes, not the node as the API shows it (no new eTag).
    await cluster.store.nodes.update(poolPk, node.doc);
    const session = cluster.session(account, poolPk, nodeId);
    if (session) session.secretHash = secretHash;
    return token;
  });
}

/**
 * The node a rejoin names by its token: a node of this pool whose current session the token is.
 * Refused otherwise (403): a node id alone, another pool's or account's token, an old session's.
 */
export async function rejoiningNode(cluster: ClusterContext, account: string, poolPk: number, pool: CloudPool, nodeToken: string): Promise<ComputeNode> {
  const claims = parseNodeToken(nodeToken);
  const ofThisPool = claims !== undefined && claims.account === account && claims.poolId.toLowerCase() === pool.id.toLowerCase();
  const node = ofThisPool ? (await cluster.store.nodes.get(poolPk, claims.nodeId))?.doc : undefined;
  if (!node || !secretMatches(claims!, storedSecretHash(node))) throw new AgentApiError(403, 'this node token is not the current one of a node of this pool');
  if (node.state === 'leavingpool') throw new AgentApiError(410, `node ${node.id} is leaving the pool`);
  return node;
}

/**
 * The session a node token belongs to. 401 for a token that is not the node's current one; 409
 * when it is, but the server no longer counts the node as live (lost it, or restarted without it):
 * the agent joins again with it.
 */
export async function authenticateNode(cluster: ClusterContext, claims: NodeClaims): Promise<NodeSession> {
  const pool = await cluster.store.pools.get(claims.account, claims.poolId);
  const session = pool && cluster.session(claims.account, pool.pk, claims.nodeId);
  if (session) {
    if (secretMatches(claims, session.secretHash)) return session;
  } else if (pool) {
    const node = (await cluster.store.nodes.get(pool.pk, claims.nodeId))?.doc;
    if (node && secretMatches(claims, storedSecretHash(node))) throw new AgentApiError(409, 'this node has no session: join again');
  }
  throw new AgentApiError(401, 'a valid node token is required');
}
