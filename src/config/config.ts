import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { type Account, devAccount, parseAccountSpec } from './accounts.js';
import type { NodeTimings } from './timings.js';

export interface KilnConfig {
  host: string;
  blobPort: number;
  batchPort: number;
  dataDir: string;
  /** Root directories of local nodes (AZ_BATCH_NODE_ROOT_DIR of each). */
  nodesDir: string;
  accounts: Account[];
  /** Heartbeats and node-loss timeouts; nodeTimings() when not given. */
  timings?: NodeTimings;
}

export const DEFAULT_BLOB_PORT = 10000;
export const DEFAULT_BATCH_PORT = 10100;

/** Where Kiln keeps its data when --data is not given: the XDG data directory of the user. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'kiln');
}

/**
 * Where local nodes keep their directories. Not inside the data directory when Kiln runs as root:
 * non-admin tasks run as another user, who must reach their working directories but not Kiln's data.
 */
export function defaultNodesDir(dataDir: string): string {
  if (process.getuid?.() !== 0) return path.join(dataDir, 'nodes');
  return path.join('/var/lib/kiln/nodes', createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12));
}

export function parsePort(value: string, what: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${what} must be a port number (0-65535), not "${value}"`);
  }
  return port;
}

/** Accounts from flags win over KILN_ACCOUNTS (separated by ';' or ','); with neither, the dev account. */
export function resolveAccounts(specs: string[], env: NodeJS.ProcessEnv = process.env): Account[] {
  const fromEnv = (env.KILN_ACCOUNTS ?? '').split(/[;,]/).map((s) => s.trim()).filter(Boolean);
  const chosen = specs.length > 0 ? specs : fromEnv;
  return chosen.length > 0 ? chosen.map(parseAccountSpec) : [devAccount()];
}
