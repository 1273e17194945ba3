import fs from 'node:fs';
import path from 'node:path';
import { removeTree } from './fs/pinnedDir.js';
import type { NodeLayout } from './layout.js';

// Beside the task directory, not in it: the task file API lists a task's directory. The node file
// API hides them (isRetentionMarker): they are the agent's, not the task's.
const SUFFIX = '.retain-until';
const marker = (taskDir: string): string => `${taskDir}${SUFFIX}`;

/**
 * Whether a path under the node's root directory is one of these markers:
 * workitems/{job}/job-1/{task}.retain-until, or workitems/{schedule}/job-{n}/… for a schedule's jobs.
 */
export const isRetentionMarker = (nodePath: string): boolean => /^workitems\/[^/]+\/job-\d+\/[^/]+\.retain-until$/.test(nodePath);
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Removes task directories once their retentionTime has passed, as Azure Batch nodes do. Each
 * finished task's deadline is written to a file beside its directory, so the schedule survives agent
 * restarts; in memory only the deadlines are kept, earliest first, with one timer for the next.
 */
export class TaskDirRetention {
  /** Each directory's deadline: the truth. */
  private readonly deadlines = new Map<string, number>();
  /** The deadlines earliest first; an entry whose directory's deadline changed since is skipped (cheaper than finding it). */
  private due: { at: number; dir: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Infinity;

  constructor(private readonly layout: NodeLayout) {}

  /** Picks up the deadlines of directories a previous run of the agent left. */
  load(): void {
    const workitems = path.join(this.layout.rootDir, 'workitems');
    const jobDirs = safeReaddir(workitems).flatMap((item) =>
      safeReaddir(path.join(workitems, item))
        .filter((name) => /^job-\d+$/.test(name))
        .map((name) => path.join(workitems, item, name)),
    );
    for (const jobDir of jobDirs) {
      for (const name of safeReaddir(jobDir)) {
        if (!name.endsWith(SUFFIX)) continue;
        const dir = path.join(jobDir, name.slice(0, -SUFFIX.length));
        const at = Number(safeRead(marker(dir)));
        if (Number.isFinite(at) && at > 0) this.insert(at, dir);
      }
    }
    this.arm();
  }

  /** A task finished: its directory goes `retentionMs` from now. */
  retain(taskDir: string, retentionMs: number): void {
    const at = Date.now() + retentionMs;
    try {
      fs.writeFileSync(marker(taskDir), String(at));
    } catch {
      return; // the directory is gone already
    }
    this.insert(at, taskDir);
    this.arm();
  }

  /** A task runs (again) in its directory: no deadline until it finishes. */
  cancel(taskDir: string): void {
    this.deadlines.delete(taskDir);
    fs.rmSync(marker(taskDir), { force: true });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  /** Deadlines mostly come in order (now + the same retention): an append, else a binary search. */
  private insert(at: number, dir: string): void {
    this.deadlines.set(dir, at);
    let lo = 0;
    let hi = this.due.length;
    if (hi > 0 && this.due[hi - 1]!.at <= at) lo = hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.due[mid]!.at <= at) lo = mid + 1;
      else hi = mid;
    }
    this.due.splice(lo, 0, { at, dir });
    // Entries left behind by cancels and re-runs: dropped once they are most of the list.
    if (this.due.length > 64 && this.due.length > 2 * this.deadlines.size) this.due = this.due.filter((d) => this.deadlines.get(d.dir) === d.at);
  }

  /** One timer, for the earliest deadline; left alone when it is set for that one already. */
  private arm(): void {
    const next = this.due[0];
    if (next && next.at >= this.armedFor && this.timer) return;
    this.stop();
    if (!next) return;
    this.armedFor = next.at;
    this.timer = setTimeout(() => this.sweep(), Math.min(MAX_TIMER_MS, Math.max(0, next.at - Date.now())));
    this.timer.unref();
  }

  private sweep(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = Date.now();
    let swept = 0;
    for (; swept < this.due.length && this.due[swept]!.at <= now; swept++) {
      const { at: due, dir } = this.due[swept]!;
      if (this.deadlines.get(dir) !== due) continue;
      this.deadlines.delete(dir);
      // A task run again since (retried, reactivated) has a later deadline, or none while it runs.
      const at = Number(safeRead(marker(dir)));
      if (Number.isFinite(at) && at <= now) {
        try {
          // The task's files are removed without following any link it left there.
          removeTree(dir);
          fs.rmSync(marker(dir), { force: true });
        } catch {
          // Left for the next sweep after an agent restart; a timer must not throw.
        }
      }
    }
    this.due.splice(0, swept);
    this.arm();
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function safeRead(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
