import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Account, devAccount, keyInArgvWarning, parseAccountSpec } from './accounts.js';
import type { NodeTimings } from './timings.js';
import type { HttpTimeouts } from '../protocol/http/server.js';
import type { StoreLocation } from './store.js';

export interface KilnConfig {
  /** The address the services listen on (0.0.0.0: every interface, loopback included). */
  host: string;
  /** The host name or address given out in URLs; chosen from `host` when not given (config/advertise.ts). */
  advertiseHost?: string;
  blobPort: number;
  batchPort: number;
  dataDir: string;
  /** Where the state is kept: the data directory's SQLite when not given (config/store.ts). */
  store?: StoreLocation;
  /** Root directories of local nodes (AZ_BATCH_NODE_ROOT_DIR of each). */
  nodesDir: string;
  accounts: Account[];
  /** Unreferenced extents younger than this are kept by garbage collection (uploads in flight renew theirs). */
  orphanExtentGraceMs?: number;
  /** Heartbeats and node-loss timeouts; nodeTimings() when not given. */
  timings?: NodeTimings;
  /** The HTTP edge's header and body-idle timeouts; DEFAULT_HTTP_TIMEOUTS when not given. */
  http?: HttpTimeouts;
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

/** Where the accounts of a server come from: flags (NAME:KEY), files of NAME:KEY lines, KILN_ACCOUNTS. */
export interface AccountSources {
  /** `--account NAME:KEY`: on the command line, which every local user can read (/proc/PID/cmdline). */
  specs: string[];
  /** `--accounts-file`: one NAME:KEY a line; blank lines and lines starting with # are skipped. */
  files: string[];
}

/**
 * The accounts of flags and files together; with neither, those of KILN_ACCOUNTS (separated by ';' or
 * ','); with none at all, the dev account. `warn` hears of every key given on the command line.
 */
export function resolveAccounts(sources: AccountSources, env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = (m) => console.error(m)): Account[] {
  const fromFiles = sources.files.flatMap(readAccountsFile);
  const fromFlags = sources.specs.map(parseAccountSpec);
  for (const account of fromFlags) warn(keyInArgvWarning(account.name, 'KILN_ACCOUNTS or a file only you can read (--accounts-file)'));
  const fromEnv = (env.KILN_ACCOUNTS ?? '')
    .split(/[;,]/)
    .map((s) => s.trim())
    .filter(Boolean)
    .map(parseAccountSpec);
  const chosen = fromFlags.length + fromFiles.length > 0 ? [...fromFlags, ...fromFiles] : fromEnv;
  return chosen.length > 0 ? chosen : [devAccount()];
}

/** Reads an accounts file, refusing one that others may read or change: it holds keys. */
export function readAccountsFile(file: string): Account[] {
  const fd = fs.openSync(file, 'r');
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new Error(`the accounts file ${file} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      throw new Error(`the accounts file ${file} holds account keys but is mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}, open to other users: chmod 600 it`);
    }
    return fs
      .readFileSync(fd, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map(parseAccountSpec);
  } finally {
    fs.closeSync(fd);
  }
}
