// Throwaway PostgreSQL servers for the tests (docs/postgres.md): one per test file, in a temporary
// directory of its own, on loopback, stopped when the test process exits whatever happens to the test.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort, waitFor } from './kiln.js';

export interface PostgresServer {
  /** postgres://kiln:…@127.0.0.1:<port>/kiln: the server's one database, made for Kiln, owned by its superuser. */
  url: string;
  /** The postmaster's pid. */
  pid: number;
  /** The server's directory (data, socket, log), removed by stop(). */
  dir: string;
  /** Stops the server (pg_ctl stop -m fast, its processes killed if that fails) and removes its directory. */
  stop(): Promise<void>;
}

const run = promisify(execFile);
/** PostgreSQL refuses to run as root; Debian's package makes this user. */
const OS_USER = 'postgres';
const SUPERUSER = 'kiln';
const DATABASE = 'kiln';

/** Directories of servers not stopped yet, and their bin/: the exit handler below stops them, so a failed test leaves none behind. */
const running = new Map<string, string>();

/**
 * Starts a PostgreSQL server of Debian's newest installed version (scripts/test-setup.sh installs
 * one): initdb into a fresh directory owned by the postgres user, listening on 127.0.0.1 only, on a
 * free port, with its unix socket in that directory and a password for every connection. The
 * database's default collation is ICU's en-US, as a deployment's often is, so that a query that
 * needs byte order (paging on id_key) and forgets COLLATE "C" gets the wrong order here too.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = serverBinDir();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-postgres-'));
  running.set(dir, bin);
  const data = path.join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const uid = Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8' }));
  const gid = Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8' }));
  fs.chownSync(dir, uid, gid);
  const pwfile = path.join(dir, 'password');
  fs.writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  fs.chownSync(pwfile, uid, gid);
  // ICU's en-US as the default collation (see above); --no-sync: initdb's final sync is of no use to a
  // directory thrown away after the test, and the server keeps fsync on.
  const initdb = [
    '-D',
    data,
    '-U',
    SUPERUSER,
    `--pwfile=${pwfile}`,
    '--auth=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
    '--locale-provider=icu',
    '--icu-locale=en-US',
    '--no-instructions',
    '--no-sync',
  ];
  await run(...asPostgres(bin, 'initdb', initdb, dir));
  fs.rmSync(pwfile);

  const port = await freePort();
  const log = fs.openSync(path.join(dir, 'server.log'), 'a');
  // The postmaster itself (setpriv execs it). Its children each start a session of their own, so no
  // process group holds them all: cluster_name, the directory's name, puts it in their titles, which
  // is how serverProcesses finds them. Logging to a file keeps no pipe open, so a test that forgets
  // stop() still exits (and the exit handler stops the server). The short deadlock_timeout makes a
  // test of deadlocks quick.
  const settings = { listen_addresses: '127.0.0.1', port, unix_socket_directories: dir, cluster_name: path.basename(dir), deadlock_timeout: '100ms' };
  const [file, args, opts] = asPostgres(bin, 'postgres', ['-D', data, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])], dir);
  const child = spawn(file, args, { ...opts, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const pid = child.pid!;
  child.unref();

  const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}`;
  await waitFor(
    'PostgreSQL to accept connections',
    async () => {
      if (child.exitCode !== null) throw new Error(`postgres exited early: ${fs.readFileSync(path.join(dir, 'server.log'), 'utf8')}`);
      await withClient(`${url}/postgres`, (client) => client.query('SELECT 1'));
      return true;
    },
    30_000,
  );
  await withClient(`${url}/postgres`, (client) => client.query(`CREATE DATABASE ${DATABASE}`));

  return {
    url: `${url}/${DATABASE}`,
    pid,
    dir,
    async stop() {
      if (!running.delete(dir)) return;
      const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await run(...asPostgres(bin, 'pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', '30'], dir));
      } catch {
        killServer(dir);
      }
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An empty database with a name of its own on the server `url` points at, so that several suites can share one server; its URL. */
export async function freshDatabase(url: string): Promise<string> {
  const name = `kiln_${randomBytes(6).toString('hex')}`;
  await withClient(url, (client) => client.query(`CREATE DATABASE ${name}`));
  const fresh = new URL(url);
  fresh.pathname = `/${name}`;
  return fresh.toString();
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** bin/ of the newest PostgreSQL Debian installed (one directory per major version). */
function serverBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin/initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error('no PostgreSQL server under /usr/lib/postgresql: run bash scripts/test-setup.sh (npm test does)');
  return path.join(root, newest, 'bin');
}

/** A PostgreSQL program run as the postgres user, in the server's directory, with a clean environment. */
function asPostgres(bin: string, program: string, args: string[], cwd: string): [string, string[], { cwd: string; env: NodeJS.ProcessEnv }] {
  return ['setpriv', [`--reuid=${OS_USER}`, `--regid=${OS_USER}`, '--init-groups', '--', path.join(bin, program), ...args], { cwd, env: { PATH: '/usr/bin:/bin', LANG: 'C' } }];
}

/** The live (not zombie) processes of the server in `dir`: the postmaster (`-D <dir>/data`) and its children (`postgres: <dir's name>: …`). */
export function serverProcesses(dir: string): number[] {
  const name = path.basename(dir);
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
        return state !== 'Z' && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name);
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

function killServer(dir: string): void {
  for (const pid of serverProcesses(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

// A test process that ends without stop() (a failed test, an uncaught error) takes its servers with
// it: an immediate shutdown (synchronous, as an exit handler must be), then whatever is left killed.
process.on('exit', () => {
  for (const [dir, bin] of running) {
    const [file, args, opts] = asPostgres(bin, 'pg_ctl', ['stop', '-D', path.join(dir, 'data'), '-m', 'immediate', '-w', '-t', '10'], dir);
    spawnSync(file, args, { ...opts, stdio: 'ignore' });
    killServer(dir); // whatever an immediate shutdown left
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
