import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Task processes are started by a small helper, not by the agent: a fork copies the forking
 * process's page tables, so its cost grows with the process (about 1.8 ms of CPU for a fresh Node
 * process, 4.6 ms for one of 110 MB, against a fraction of that for Perl), and the agent, a Node process
 * of 80–100 MB, paid it on every task. The helper is Perl because perl-base is part of every Debian
 * and Ubuntu system, and because Perl can make the raw clone3 system call, which lets a process be
 * born straight into its run's cgroup (CLONE_INTO_CGROUP): no process moves between groups, which
 * costs 5–15 ms on a cgroup2 mount without favordynmods (docs/benchmarks.md). One helper per agent
 * process, started on first use; what it does is in launcher.pl.
 */

/** What one task process is started with. */
export interface LaunchSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** Descriptors of this process for the task's stdout and stderr (reopened by the helper through /proc). */
  stdout: number;
  stderr: number;
  uid?: number | undefined;
  gid?: number | undefined;
  /** Supplementary groups; without them the process has its gid alone. */
  groups?: number[] | undefined;
  /** The cgroup it is born in, if runs have groups. */
  cgroup?: string | undefined;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type Launched = { pid: number; exited: Promise<ExitStatus> } | { launchError: NodeJS.ErrnoException };

const PERL = ['/usr/bin/perl', '/bin/perl'].find((candidate) => fs.existsSync(candidate));
const SCRIPT = fileURLToPath(new URL('./launcher.pl', import.meta.url));
const MISSING_PERL = 'kiln agent needs perl to start tasks (on Debian and Ubuntu: the perl-base package)';

/** Why tasks cannot be started here, if they cannot. */
export const launcherMissing = (): string | undefined => (PERL ? (fs.existsSync(SCRIPT) ? undefined : `the task launcher ${SCRIPT} is missing: rebuild Kiln`) : MISSING_PERL);
const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

const hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex');
const hexList = (items: string[]): string => items.map(hex).join(',');
const field = (value: number | number[] | string | undefined): string => (value === undefined ? '-' : hex(Array.isArray(value) ? value.join(',') : String(value)));

function launchError(errno: number, program: string): NodeJS.ErrnoException {
  const code = ERRNO_NAMES.get(-errno) ?? ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
  return Object.assign(new Error(`spawn ${program} ${code}`), { code, errno, syscall: 'spawn', path: program });
}

interface Pending {
  program: string;
  started: (launched: Launched) => void;
  exited?: (status: ExitStatus) => void;
}

export class Launcher {
  private child: ChildProcess | undefined;
  private buffer = '';
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  /** `home`: the cgroup this process is in, for the helper to return to should it ever have to move. */
  constructor(private readonly home: string | undefined) {}

  /** Starts the process; resolves once it runs (or could not start), when `spec`'s descriptors may be closed. */
  launch(spec: LaunchSpec): Promise<Launched> {
    const env = Object.entries(spec.env).map(([k, v]) => `${k}=${v}`);
    // As Node's spawn refuses them: C strings end at the first NUL, so the process would get less than asked.
    if ([...spec.argv, ...env, spec.cwd].some((s) => s.includes('\0'))) {
      return Promise.reject(Object.assign(new TypeError('an argument, the directory or an environment value holds a NUL byte'), { code: 'ERR_INVALID_ARG_VALUE' }));
    }
    const helper = this.helper();
    const id = ++this.seq;
    const line = [
      'L',
      id,
      field(spec.cgroup),
      field(spec.uid),
      field(spec.gid),
      field(spec.groups),
      hex(spec.cwd),
      field(spec.stdout),
      field(spec.stderr),
      hexList(spec.argv),
      hexList(env),
    ];
    return new Promise((started) => {
      this.pending.set(id, { program: spec.argv[0] ?? '', started });
      this.busy(true);
      helper.stdin!.write(`${line.join(' ')}\n`);
    });
  }

  private helper(): ChildProcess {
    if (this.child) return this.child;
    const missing = launcherMissing();
    if (missing || !PERL) throw Object.assign(new Error(missing ?? MISSING_PERL), { code: 'ENOENT' });
    const child = spawn(PERL, [SCRIPT, String(process.pid), ...(this.home ? [this.home] : [])], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: '/usr/bin:/bin' } });
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.read(chunk));
    child.stdin!.on('error', () => undefined);
    child.on('error', () => undefined);
    child.once('exit', () => this.lost(child));
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    this.child = child;
    this.busy(false);
    return child;
  }

  /** The helper keeps this process alive while a process it started runs, and only then. */
  private busy(busy: boolean): void {
    const stdout = this.child?.stdout as unknown as { ref?: () => void; unref?: () => void } | undefined;
    if (busy) {
      this.child?.ref();
      stdout?.ref?.();
    } else {
      this.child?.unref();
      stdout?.unref?.();
    }
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
      const [kind, id, a, b] = this.buffer.slice(0, end).split(' ');
      this.buffer = this.buffer.slice(end + 1);
      const run = this.pending.get(Number(id));
      if (!run) continue;
      if (kind === 'S') {
        const exited = new Promise<ExitStatus>((resolve) => (run.exited = resolve));
        run.started({ pid: Number(a), exited });
      } else if (kind === 'E') {
        this.pending.delete(Number(id));
        run.started({ launchError: launchError(Number(a), run.program) });
      } else if (kind === 'X') {
        this.pending.delete(Number(id));
        run.exited?.({ code: a === '-' ? null : Number(a), signal: b === '-' ? null : (SIGNAL_NAMES.get(Number(b)) ?? 'SIGKILL') });
      }
    }
    if (this.pending.size === 0) this.busy(false);
  }

  /** The helper died (killed): what it was starting failed, and what it started counts as killed. */
  private lost(child: ChildProcess): void {
    if (this.child === child) this.child = undefined;
    this.buffer = '';
    for (const [id, run] of this.pending) {
      this.pending.delete(id);
      if (run.exited) run.exited({ code: null, signal: 'SIGKILL' });
      else run.started({ launchError: Object.assign(new Error(`the task launcher exited before ${run.program} started`), { code: 'ECHILD' }) });
    }
  }
}
