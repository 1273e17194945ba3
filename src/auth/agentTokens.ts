import type { Account } from '../config/accounts.js';
import { hmacSha256, signatureMatches } from './hmac.js';

/**
 * Tokens of the node agent protocol, derived from the account key so that the server keeps no token
 * state and a restarted server still knows its agents:
 * - a pool's join token (`ACCOUNT.POOL.MAC`), given to `kiln agent --token`, lets a node join that pool;
 * - a node token (`ACCOUNT.POOL.NODE.MAC`), handed out on join, authenticates that node's calls.
 */
const mac = (account: Account, parts: string[]): Buffer => hmacSha256(account.key, ['kiln-agent', account.name, ...parts].join('\n'));
const b64url = (b: Buffer): string => b.toString('base64url');

export function joinToken(account: Account, poolId: string): string {
  return `${account.name}.${poolId}.${b64url(mac(account, ['join', poolId.toLowerCase()]))}`;
}

export function nodeToken(account: Account, poolId: string, nodeId: string): string {
  return `${account.name}.${poolId}.${nodeId}.${b64url(mac(account, ['node', poolId.toLowerCase(), nodeId]))}`;
}

export interface TokenClaims {
  account: string;
  poolId: string;
  nodeId?: string;
}

/** Verifies a bearer token (in constant time); its claims, or undefined. */
export function verifyAgentToken(token: string, lookup: (account: string) => Account | undefined): TokenClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 && parts.length !== 4) return undefined;
  const account = lookup(parts[0]!);
  if (!account) return undefined;
  const given = Buffer.from(parts[parts.length - 1]!, 'base64url').toString('base64');
  if (parts.length === 3) {
    const [, poolId] = parts as [string, string, string];
    return signatureMatches(mac(account, ['join', poolId.toLowerCase()]), given) ? { account: account.name, poolId } : undefined;
  }
  const [, poolId, nodeId] = parts as [string, string, string, string];
  return signatureMatches(mac(account, ['node', poolId.toLowerCase(), nodeId]), given) ? { account: account.name, poolId, nodeId } : undefined;
}
