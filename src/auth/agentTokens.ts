import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Account } from '../config/accounts.js';
import { hmacSha256 } from './hmac.js';

/**
 * Credentials of the node agent protocol (docs/security.md, "Nodes"):
 *
 * - a pool's **join token**, `ACCOUNT.POOL.MAC`, derived from the account key (so the server keeps
 *   no state for it and `kiln agent-token` can print it): it lets an agent join that pool as a new
 *   node, whose id the server picks. It names no node and so can act as none.
 * - a **node token**, `ACCOUNT.POOL.NODE.SECRET`, handed out on each join: SECRET is 32 random
 *   bytes, new for every session, and the store keeps only its SHA-256 (on the node's record), so a
 *   restarted server still knows the session, and neither a copy of the store nor an old session's
 *   token lets anyone act as the node. The token authenticates the node's calls, and a rejoin
 *   (reboot, or after the server lost or forgot the node) presents it to take the same node back.
 *   `kiln up` issues one the same way to each local agent it starts, for its first join.
 *
 * Both go by environment or file, never on a command line (every local user can read those).
 */
const B64URL = /^[A-Za-z0-9_-]+$/;

const joinMac = (account: Account, poolId: string): string => hmacSha256(account.key, ['kiln-agent', account.name, 'join', poolId.toLowerCase()].join('\n')).toString('base64url');

export function joinToken(account: Account, poolId: string): string {
  return `${account.name}.${poolId}.${joinMac(account, poolId)}`;
}

/** A fresh node token for one session, and the hash of its secret that the store keeps. */
export function newNodeToken(account: string, poolId: string, nodeId: string): { token: string; secretHash: string } {
  const secret = randomBytes(32).toString('base64url');
  return { token: `${account}.${poolId}.${nodeId}.${secret}`, secretHash: hashSecret(secret) };
}

const hashSecret = (secret: string): string => createHash('sha256').update(secret, 'utf8').digest('hex');

/** Whether a node token's secret is the one whose hash is stored, in constant time. */
export function secretMatches(claims: NodeClaims, storedHash: unknown): boolean {
  if (typeof storedHash !== 'string' || storedHash.length !== 64) return false;
  return timingSafeEqual(Buffer.from(hashSecret(claims.secret), 'hex'), Buffer.from(storedHash, 'hex'));
}

export interface JoinClaims {
  kind: 'join';
  account: string;
  poolId: string;
}

/** What a node token says; whether its secret is the session's is for the cluster to check. */
export interface NodeClaims {
  kind: 'node';
  account: string;
  poolId: string;
  nodeId: string;
  secret: string;
}

/** Parses a node token (also where it comes in a join body): its claims, or undefined. */
export function parseNodeToken(token: string): NodeClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 4 || parts.some((p) => p === '') || !B64URL.test(parts[3]!)) return undefined;
  const [account, poolId, nodeId, secret] = parts as [string, string, string, string];
  return { kind: 'node', account, poolId, nodeId, secret };
}

/**
 * Reads a bearer token: a join token is verified here (its MAC, exactly and in constant time); a
 * node token is only parsed. Undefined for anything else, and for an unknown account.
 */
export function readAgentToken(token: string, lookup: (account: string) => Account | undefined): JoinClaims | NodeClaims | undefined {
  const parts = token.split('.');
  const account = lookup(parts[0] ?? '');
  if (!account) return undefined;
  if (parts.length === 4) return parseNodeToken(token);
  if (parts.length !== 3) return undefined;
  const [, poolId, given] = parts as [string, string, string];
  const expected = Buffer.from(joinMac(account, poolId));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected) ? { kind: 'join', account: account.name, poolId } : undefined;
}
