import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { killProcessesOf } from './exec/containment.js';

/**
 * Who a task runs as, made as Azure Batch makes its users (docs/security.md, "Users"):
 *
 * - pool-scope non-admin auto-user: one OS user per account and pool, so that tasks of different
 *   pools and accounts cannot read each other's files;
 * - task-scope non-admin auto-user: an OS user made for that one run, removed after it;
 * - a pool's `userAccounts`: an OS user each, with the uid/gid of its linuxUserConfiguration; an
 *   admin one is also put in the host's sudo group, as Azure does;
 * - admin (elevated) tasks, auto-user or named: root, which is what "full Administrator
 *   permissions" is on a Linux node (and what Kiln trusts admin tasks with, with their node).
 *
 * OS names must fit Linux's 32 characters and never collide, across pools, accounts and nodes:
 * they are a hash (`_azb_p…` pool auto-user, `_azb_t…` task auto-user, `_azb_u…` named user).
 * What a task sees in USER and AZ_BATCH_TASK_USER is the name Azure shows: `_azbatch` for the pool
 * auto-user, the account's own name (`bob`) for a named user, the OS name for a task-scope user
 * (unique per run, as Azure's are). `id -un` shows the OS name.
 *
 * Auto-users get a uid (and a gid of the same number) between 10^6 and 2^31, never the next free
 * one: a removed user's uid is not given to the next user, which could otherwise read what the
 * removed one left on the disk. A pool auto-user's uid follows from its name (the same again when
 * it is made again, so a node's files stay its own across restarts), a task-scope user's is random.
 *
 * User commands (useradd, userdel, getent) are run synchronously: a pool's users are made once per
 * agent, and a few tens of milliseconds per task-scope run are cheaper than the locking that
 * concurrent useradds would need.
 *
 * Pool users are shared by the nodes of their pool on one machine (kiln up's local nodes); each node
 * records the users it made in a root-only file, and a user goes when the last node that used it
 * leaves (`releaseNodeUsers`). Without root, Kiln cannot switch users: every task runs as the
 * agent's own user, and `canSeparateUsers` says so.
 */

export interface RunAs {
  uid?: number;
  gid?: number;
  /** What the task sees in USER and AZ_BATCH_TASK_USER. */
  userName: string;
  /** Supplementary groups the process needs (the pool's group, for a user whose own gid the pool chose). */
  groups?: number[];
  /** This run's own user (task scope): no other run has its uid; it is removed after the run. */
  perRun?: boolean;
  /** Removes a per-run user once its run is over (never throws). */
  release?(): void;
}

/** What a run says about its user (cluster/commands.ts fills it in from the task and its pool). */
export type TaskUserSpec =
  | { kind: 'auto'; scope: 'pool' | 'task'; elevated: boolean }
  | { kind: 'named'; name: string; elevated: boolean; uid?: number; gid?: number }
  /** A userName that is none of the pool's userAccounts: the task fails, never runs as someone else. */
  | { kind: 'unknown'; name: string };

/** Why a task's user could not be made (a uid another user has): the task fails with this. */
export class UserAccountError extends Error {}

/** A task names a user its pool does not define (Azure accepts the task, and it fails on the node). */
export class UnknownUserError extends Error {
  constructor(readonly userName: string) {
    super(`The user identity '${userName}' is not one of the pool's userAccounts.`);
  }
}

/** The name Azure's pool-wide non-admin auto-user has, shown to tasks. */
export const TASK_USER = '_azbatch';

const ROOT: RunAs = { uid: 0, gid: 0, userName: 'root' };
const isRoot = (): boolean => process.getuid?.() === 0;
export const canSeparateUsers = isRoot;

/** Root-only: which OS users each node made, so that they can be removed with their pool. */
const STATE_DIR = process.env.KILN_USERS_STATE_DIR ?? '/var/lib/kiln/node-users';

/** The records' directory is root's alone; the one above it (/var/lib/kiln, which also holds local nodes) is not. */
function makeStateDir(): void {
  fs.mkdirSync(path.dirname(STATE_DIR), { recursive: true, mode: 0o755 });
  fs.mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
}

const pause = new Int32Array(new SharedArrayBuffer(4));
/** A zombie holds nothing: kiln up waits here for a lock its just-killed agent held, before reaping it. */
const alive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
};

/**
 * The lock file appears with its holder's pid in it, never empty (a process killed between creating
 * and writing it would leave a lock no one could tell from a live one): written aside, then linked
 * into place, which fails if the lock exists.
 */
function takeLock(lock: string): boolean {
  const mine = `${lock}.${process.pid}`;
  fs.writeFileSync(mine, String(process.pid), { mode: 0o600 });
  try {
    fs.linkSync(mine, lock);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return false;
  } finally {
    fs.rmSync(mine, { force: true });
  }
}

/** What processes killed while taking the lock (between writing their file aside and linking it) left. */
function removeDeadAsides(lock: string): void {
  const dir = path.dirname(lock);
  const prefix = `${path.basename(lock)}.`;
  for (const name of fs.readdirSync(dir)) {
    const pid = Number(name.slice(prefix.length));
    if (name.startsWith(prefix) && Number.isInteger(pid) && pid > 0 && !alive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/** The pid in a lock file; 'stale' for one an older Kiln left empty, once a few seconds old; 'unknown' for one just gone. */
function lockHolder(lock: string): number | 'stale' | 'unknown' {
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (pid > 0) return pid;
    return Date.now() - fs.statSync(lock).mtimeMs > 5000 ? 'stale' : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Every change to the machine's users, and every read of the records that decide one, happens under
 * one machine-wide lock: the agents of kiln up's nodes start together, and concurrent useradds both
 * fail on /etc/passwd's lock and race to make the same pool user. A lock whose holder died is taken.
 */
function withUsersLock<T>(work: () => T): T {
  makeStateDir();
  const lock = path.join(STATE_DIR, '.lock');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (takeLock(lock)) break;
    const holder = lockHolder(lock);
    if (holder === 'stale' || (typeof holder === 'number' && !alive(holder))) fs.rmSync(lock, { force: true });
    else if (Date.now() > deadline) throw new UserAccountError(`the node's users are locked by process ${holder}`);
    else Atomics.wait(pause, 0, 0, 5);
  }
  try {
    removeDeadAsides(lock);
    return work();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

const hash = (...parts: string[]): string => crypto.createHash('sha256').update(parts.join('\0')).digest('hex');
const nodeKey = (rootDir: string): string => hash(path.resolve(rootDir)).slice(0, 16);
const taskUserPrefix = (rootDir: string): string => `_azb_t${nodeKey(rootDir).slice(0, 8)}`;

export interface NodeRef {
  accountName: string;
  poolId: string;
}

interface OsUser {
  uid: number;
  gid: number;
}

/** Who runs a task with this spec on this node; makes the OS user if need be. */
export function userFor(node: NodeRef, rootDir: string, run: { elevated: boolean; user?: TaskUserSpec }): RunAs {
  const spec: TaskUserSpec = run.user ?? { kind: 'auto', scope: 'pool', elevated: run.elevated };
  if (spec.kind === 'unknown') throw new UnknownUserError(spec.name);
  if (!isRoot()) return { userName: os.userInfo().username };
  if (spec.kind === 'named') {
    const pool = poolUser(node, rootDir);
    const osName = `_azb_u${hash(node.accountName, node.poolId, spec.name).slice(0, 16)}`;
    const made = nodeUser(rootDir, osName, { uid: spec.uid, gid: spec.gid, sudo: spec.elevated, pool: pool.name });
    if (spec.elevated) return { ...ROOT, userName: spec.name };
    return { ...made, userName: spec.name, ...(made.gid !== pool.gid ? { groups: [made.gid, pool.gid] } : {}) };
  }
  if (spec.elevated) return ROOT;
  if (spec.scope === 'pool') return { ...poolUser(node, rootDir), userName: TASK_USER };
  const osName = `${taskUserPrefix(rootDir)}${crypto.randomBytes(4).toString('hex')}`;
  const made = createUser(osName, { pool: poolUser(node, rootDir).name });
  return { ...made, userName: osName, perRun: true, release: () => withUsersLock(() => removeUser(osName, made.uid)) };
}

/** Pool auto-users by node root, account and pool: asked for on every run, worked out (two hashes) once. */
const poolUsers = new Map<string, OsUser & { name: string }>();

/** The pool's non-admin auto-user; its group has every user of the pool's tasks. */
function poolUser(node: NodeRef, rootDir: string): OsUser & { name: string } {
  const key = `${path.resolve(rootDir)}\0${node.accountName}\0${node.poolId}`;
  const cached = poolUsers.get(key);
  if (cached) return cached;
  const name = `_azb_p${hash(node.accountName, node.poolId).slice(0, 16)}`;
  const user = { ...nodeUser(rootDir, name, { preferredId: idFrom(name) }), name };
  poolUsers.set(key, user);
  return user;
}

/**
 * The node's directory is root's and the pool's alone (0750, group: the pool's users): tasks of
 * other pools on this machine (kiln up's local nodes, whose pools share it) cannot enter it, so they
 * read nothing of this node's tasks, shared directory included. On Azure a node is a VM of one pool.
 */
export function admitPoolOnly(node: NodeRef, rootDir: string): void {
  if (!isRoot()) return;
  fs.chownSync(rootDir, 0, poolUser(node, rootDir).gid);
  fs.chmodSync(rootDir, 0o750);
}

interface Wanted {
  /** As the pool asks (linuxUserConfiguration): exactly this, or the task fails. */
  uid?: number;
  gid?: number;
  /** Else this one if it is free, else a random one. */
  preferredId?: number;
  sudo?: boolean;
  /**
   * The pool auto-user whose group this user is in, to enter the node's directory: as its primary
   * group (a task-scope user; a named user without a gid), else as a supplementary one (the
   * launcher, exec/launcher.ts, sets a process's supplementary groups).
   */
  pool?: string;
}

/** Users this process has made or checked, per node: each is looked up once. */
const known = new Map<string, OsUser>();

/** A node-shared OS user: made once, recorded for this node, checked against what the pool asks. */
function nodeUser(rootDir: string, osName: string, wanted: Wanted): OsUser {
  const key = `${nodeKey(rootDir)}/${osName}`;
  const cached = known.get(key);
  if (cached) return cached;
  const user = withUsersLock(() => {
    // Recorded before it is made: an agent killed between the two leaves a record, not a user no one removes.
    recordUse(rootDir, osName);
    const found = lookup(osName) ?? makeUser(osName, wanted);
    if ((wanted.uid !== undefined && found.uid !== wanted.uid) || (wanted.gid !== undefined && found.gid !== wanted.gid)) {
      throw new UserAccountError(
        `the user account exists with uid ${found.uid} and gid ${found.gid}, not the uid ${wanted.uid ?? '(any)'} and gid ${wanted.gid ?? '(any)'} its pool asks for`,
      );
    }
    return found;
  });
  known.set(key, user);
  return user;
}

function getent(database: 'passwd' | 'group', key: string): string[] | undefined {
  try {
    return execFileSync('getent', [database, key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .trim()
      .split(':');
  } catch {
    return undefined; // exit status 2: no such entry
  }
}

function lookup(osName: string): OsUser | undefined {
  const entry = getent('passwd', osName);
  return entry ? { uid: Number(entry[2]), gid: Number(entry[3]) } : undefined;
}

const ID_MIN = 1_000_000;
const ID_RANGE = 2 ** 31 - 2 - ID_MIN;
const idFrom = (name: string): number => ID_MIN + (parseInt(hash('uid', name).slice(0, 12), 16) % ID_RANGE);
const randomId = (): number => ID_MIN + crypto.randomInt(ID_RANGE);
const free = (id: number): boolean => !getent('passwd', String(id)) && !getent('group', String(id));

const createUser = (osName: string, wanted: Wanted): OsUser => withUsersLock(() => makeUser(osName, wanted));

/** Under the lock. */
function makeUser(osName: string, wanted: Wanted): OsUser {
  if (wanted.uid !== undefined && getent('passwd', String(wanted.uid))) throw new UserAccountError(`the uid ${wanted.uid} is taken by another user of the node`);
  if (wanted.gid !== undefined && getent('group', String(wanted.gid))) throw new UserAccountError(`the gid ${wanted.gid} is taken by another group of the node`);
  let uid = wanted.uid;
  let gid = wanted.gid;
  if (uid === undefined) {
    let id = wanted.preferredId !== undefined && free(wanted.preferredId) ? wanted.preferredId : randomId();
    while (!free(id)) id = randomId();
    uid = id;
    if (!wanted.pool) gid ??= id;
  }
  // Its primary group: a group of its own with the gid asked for, else the pool's group, else a
  // group of its own with the uid's number (the pool auto-user's group, which the others join).
  const ownGroup = gid !== undefined || !wanted.pool;
  const primary = ownGroup ? osName : wanted.pool!;
  try {
    if (ownGroup) run('groupadd', [...(gid !== undefined ? ['--gid', String(gid)] : []), osName]);
    const groups = [...(ownGroup && wanted.pool ? [wanted.pool] : []), ...(wanted.sudo && getent('group', 'sudo') ? ['sudo'] : [])];
    // --no-log-init: no lastlog/faillog entries, which are sparse files as big as the uid.
    run('useradd', [
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      '--no-log-init',
      '--uid',
      String(uid),
      '--gid',
      primary,
      ...(groups.length > 0 ? ['--groups', groups.join(',')] : []),
      osName,
    ]);
  } catch (err) {
    removeUser(osName, uid);
    throw new UserAccountError(`the user could not be made: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || String(err)}`);
  }
  const user = lookup(osName);
  if (!user) throw new UserAccountError('the user was made but cannot be found');
  return user;
}

/**
 * A user command, again while /etc's files are locked: a process outside Kiln's lock may hold them
 * (an administrator's command, or a user command of an agent killed mid-way, whose stale lock the
 * next command takes back), which shadow's tools report and give up on at once.
 */
function run(command: string, args: string[]): void {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      return;
    } catch (err) {
      const locked = /cannot lock|try again later/i.test((err as { stderr?: Buffer }).stderr?.toString() ?? '');
      if (!locked || attempt >= 50) throw err;
      Atomics.wait(pause, 0, 0, 100);
    }
  }
}

const quietly = (command: string, args: string[]): void => {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
  } catch {
    // gone already (or, for a group, never made: users in the pool's group have none of their own)
  }
};

/** Kills what is left of the user, then removes it and its group. Never throws. */
function removeUser(osName: string, uid: number): void {
  deleteAccount(osName, uid);
  quietly('groupdel', [osName]);
}

function deleteAccount(osName: string, uid: number): void {
  if (uid === 0) return;
  try {
    killProcessesOf(uid);
  } catch {
    // nothing to kill
  }
  quietly('userdel', ['--force', osName]);
}

const stateFile = (rootDir: string): string => path.join(STATE_DIR, nodeKey(rootDir));

/** A node's record: its root directory on the first line, then the OS users it made, one a line. */
function recordUse(rootDir: string, osName: string): void {
  makeStateDir();
  const file = stateFile(rootDir);
  const record = readRecord(file);
  if (!record) fs.writeFileSync(file, `${path.resolve(rootDir)}\n${osName}\n`, { mode: 0o600 });
  else if (!record.names.includes(osName)) fs.appendFileSync(file, `${osName}\n`);
}

function readRecord(file: string): { rootDir: string; names: string[] } | undefined {
  try {
    const [rootDir, ...names] = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    return rootDir ? { rootDir, names } : undefined;
  } catch {
    return undefined;
  }
}

function allRecords(): { file: string; rootDir: string; names: string[] }[] {
  let files: string[];
  try {
    files = fs.readdirSync(STATE_DIR).filter((name) => !name.startsWith('.')); // not the lock, nor one being taken
  } catch {
    return [];
  }
  return files.flatMap((name) => {
    const file = path.join(STATE_DIR, name);
    const record = readRecord(file);
    return record ? [{ file, ...record }] : [{ file, rootDir: '', names: [] }];
  });
}

/**
 * The node leaves its pool, its pool is deleted, or kiln up stops its local node: every user it
 * made goes, unless another node on this machine still uses it, and so do task-scope users a dead
 * agent left. Its runs must be gone already.
 */
export function releaseNodeUsers(rootDir: string): void {
  if (!isRoot()) return;
  for (const key of [...known.keys()]) if (key.startsWith(`${nodeKey(rootDir)}/`)) known.delete(key);
  for (const key of [...poolUsers.keys()]) if (key.startsWith(`${path.resolve(rootDir)}\0`)) poolUsers.delete(key);
  withUsersLock(() => releaseLocked(rootDir));
}

function releaseLocked(rootDir: string): void {
  // This node's record goes, and so does that of any node whose directory is gone without its
  // agent's help (kiln up or the agent was killed, and the disk removed): their users are no one's.
  const mine = stateFile(rootDir);
  const records = allRecords();
  const dead = records.filter((r) => r.file === mine || !r.rootDir || !fs.existsSync(r.rootDir));
  const used = new Set(records.filter((r) => !dead.includes(r)).flatMap((r) => r.names));
  const roots = [rootDir, ...dead.map((r) => r.rootDir).filter(Boolean)];
  removeUsers([...new Set([...dead.flatMap((r) => r.names).filter((n) => !used.has(n)), ...roots.flatMap(taskUsersLeft)])]);
  // Only now: whoever is killed halfway through (an agent leaving, SIGKILLed by kiln up meanwhile)
  // leaves the records for the next release to finish.
  for (const record of dead) fs.rmSync(record.file, { force: true });
}

/** At an agent's start: the task-scope users a previous agent of this node left (it died mid-run). */
export function removeLeftoverTaskUsers(rootDir: string): void {
  if (isRoot()) withUsersLock(() => removeUsers(taskUsersLeft(rootDir)));
}

/** All accounts first, then their groups: a pool's group is the primary group of its other users. */
function removeUsers(osNames: string[]): void {
  const found = osNames.filter((osName) => {
    const user = lookup(osName);
    if (user) deleteAccount(osName, user.uid);
    return user !== undefined;
  });
  for (const osName of found) quietly('groupdel', [osName]);
}

/** Task-scope users of this node still there. */
function taskUsersLeft(rootDir: string): string[] {
  const prefix = taskUserPrefix(rootDir);
  try {
    return fs
      .readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .map((line) => line.split(':')[0] ?? '')
      .filter((name) => name.startsWith(prefix));
  } catch {
    return [];
  }
}
