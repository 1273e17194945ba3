import type { BatchContext } from '../context.js';
import { insertJob, newJobDoc } from '../jobs/addJob.js';
import { deleteJob } from '../jobs/deleteJob.js';
import { terminateJob } from '../jobs/terminateJob.js';
import { touch, transition, type CloudJob, type CloudJobSchedule, type Stored } from '../models.js';
import type { JsonObject } from '../schema/validate.js';
import { scheduledJobId } from './jobIds.js';
import { getJobSchedule } from './lookup.js';
import { firstRunTime, planRuns } from './recurrence.js';

/**
 * Applies a job schedule's plan (recurrence.ts) at ctx.now: makes the job that is due, skips runs
 * whose window has passed, and ends the schedule (completed; or, terminating, once its job has
 * ended; deleting, once its jobs are gone). The server's timer calls it when a run falls due, and
 * every change of a schedule or end of one of its jobs calls it too; calling it when nothing is
 * due changes nothing, so it may be called at any time.
 *
 * The schedule keeps, besides Azure's executionInfo (nextRunTime: stored, so a restart keeps it;
 * recentJob), how many jobs it has made (`_jobCount`, for the next id); a job it made keeps the
 * schedule's row key (`_schedulePk`: the listing of a schedule's jobs, and deleting them with it).
 * Properties starting with `_` are never shown on the wire.
 */

/** What one run of a schedule did, for whoever wakes the scheduler and arms the next run. */
export interface ScheduleRun {
  /** A job was made: the task scheduler (its job manager task) and local nodes (its auto pool) have news. */
  createdJob: boolean;
  /** When to run this schedule again with no other event (ms since the epoch); undefined: only an event. */
  wakeAt: number | undefined;
}

const NOTHING: ScheduleRun = { createdJob: false, wakeAt: undefined };

interface Step extends ScheduleRun {
  /** Jobs to end through the jobs' own operations, after this step commits (each fires its hooks). */
  terminate: string[];
  delete: string[];
}

/** Runs one schedule at ctx.now; see above. */
export async function runJobSchedule(ctx: BatchContext, scheduleId: string): Promise<ScheduleRun> {
  let step = await ctx.store.tx(async () => await stepSchedule(ctx, scheduleId));
  if (step.terminate.length === 0 && step.delete.length === 0) return step;
  for (const id of step.terminate) await terminateJob(ctx, id, { terminateReason: 'TerminateJobSchedule' });
  for (const id of step.delete) await deleteJob(ctx, id);
  // Jobs with nothing on a node end at once: the schedule may end with them now.
  const createdJob = step.createdJob;
  step = await ctx.store.tx(async () => await stepSchedule(ctx, scheduleId));
  return { createdJob: createdJob || step.createdJob, wakeAt: step.wakeAt };
}

/** Plans a schedule's first run, for a new schedule or a new `schedule` given by update: from ctx.now. */
export function planFirstRun(ctx: BatchContext, schedule: CloudJobSchedule): void {
  const first = firstRunTime(schedule.schedule, ctx.now.getTime());
  const { nextRunTime: _, ...rest } = schedule.executionInfo;
  schedule.executionInfo = first === undefined ? rest : { ...rest, nextRunTime: new Date(first).toISOString() };
}

/** After a change of a schedule: it runs at once (a run due now is made), and the operation answers with what is stored. */
export async function runAndGet(ctx: BatchContext, scheduleId: string): Promise<CloudJobSchedule> {
  await runJobSchedule(ctx, scheduleId);
  return (await getJobSchedule(ctx, scheduleId)).doc;
}

/** Runs every unfinished schedule of the account; a schedule that fails is reported, the others still run. */
export async function runJobSchedules(ctx: BatchContext): Promise<{ runs: ScheduleRun[]; failures: { scheduleId: string; error: unknown }[] }> {
  const runs: ScheduleRun[] = [];
  const failures: { scheduleId: string; error: unknown }[] = [];
  for (const scheduleId of await unfinishedScheduleIds(ctx)) {
    try {
      runs.push(await runJobSchedule(ctx, scheduleId));
    } catch (error) {
      failures.push({ scheduleId, error });
    }
  }
  return { runs, failures };
}

async function unfinishedScheduleIds(ctx: BatchContext): Promise<string[]> {
  const ids: string[] = [];
  let afterKey: string | undefined;
  for (;;) {
    const rows = await ctx.store.jobSchedules.list(ctx.account, { where: { kind: 'cmp', column: 'state', op: 'ne', value: 'completed' }, afterKey, limit: 1000 });
    ids.push(...rows.map((r) => r.id));
    if (rows.length < 1000) return ids;
    afterKey = rows[rows.length - 1]!.id_key;
  }
}

/** The schedule's active job, if any: the one it made last, unless that has completed or is being deleted. */
async function activeJobOf(ctx: BatchContext, schedule: CloudJobSchedule): Promise<Stored<CloudJob> | undefined> {
  const id = schedule.executionInfo.recentJob?.id;
  const job = id === undefined ? undefined : await ctx.store.jobs.get(ctx.account, id);
  return job && job.doc.state !== 'completed' && job.doc.state !== 'deleting' ? job : undefined;
}

/** Every job the schedule made that still exists. */
async function jobsOf(ctx: BatchContext, schedulePk: number): Promise<CloudJob[]> {
  const jobs: CloudJob[] = [];
  let afterKey: string | undefined;
  for (;;) {
    const rows = await ctx.store.jobs.list(ctx.account, { where: { kind: 'cmp', column: 'schedule_pk', op: 'eq', value: schedulePk }, afterKey, limit: 1000 });
    jobs.push(...rows.map((r) => JSON.parse(r.doc) as CloudJob));
    if (rows.length < 1000) return jobs;
    afterKey = rows[rows.length - 1]!.id_key;
  }
}

/** The schedule's job for the run due now: its jobSpecification, the next id. */
async function makeJob(ctx: BatchContext, schedulePk: number, schedule: CloudJobSchedule): Promise<void> {
  const n = ((schedule['_jobCount'] as number | undefined) ?? 0) + 1;
  const job = newJobDoc(ctx, scheduledJobId(schedule.id, n), schedule.jobSpecification as JsonObject);
  job['_schedulePk'] = schedulePk;
  await insertJob(ctx, job);
  schedule['_jobCount'] = n;
  schedule.executionInfo = { ...schedule.executionInfo, recentJob: { id: job.id } };
}

/** Ends a schedule: through `terminating` (Azure's "no more work to do") to `completed`, with its endTime. */
function completeSchedule(ctx: BatchContext, schedule: CloudJobSchedule): void {
  transition(schedule, 'terminating', ctx.now);
  transition(schedule, 'completed', ctx.now);
  const { nextRunTime: _, ...rest } = schedule.executionInfo;
  schedule.executionInfo = { ...rest, endTime: ctx.now.toISOString() };
}

/** One step of a schedule, in a transaction. */
async function stepSchedule(ctx: BatchContext, scheduleId: string): Promise<Step> {
  const stored = await ctx.store.jobSchedules.get(ctx.account, scheduleId);
  const none: Step = { ...NOTHING, terminate: [], delete: [] };
  if (!stored) return none;
  const { pk, doc: schedule } = stored;
  const save = async () => {
    touch(schedule, ctx.now);
    await ctx.store.jobSchedules.update(ctx.account, schedule);
  };
  switch (schedule.state) {
    case 'completed':
      return none;
    case 'deleting': {
      // Gone once its jobs are: each is deleted as DELETE /jobs/{id} deletes it (its tasks stop first).
      const jobs = await jobsOf(ctx, pk);
      if (jobs.length === 0) await ctx.store.jobSchedules.delete(ctx.account, schedule.id);
      return { ...none, delete: jobs.filter((j) => j.state !== 'deleting').map((j) => j.id) };
    }
    case 'terminating': {
      // Its active job is terminated (terminateReason TerminateJobSchedule); completed once that has ended.
      const active = await activeJobOf(ctx, schedule);
      if (active) return { ...none, terminate: active.doc.state === 'terminating' ? [] : [active.doc.id] };
      completeSchedule(ctx, schedule);
      await save();
      return none;
    }
    default: {
      const storedNext = schedule.executionInfo.nextRunTime;
      const plan = planRuns({
        state: schedule.state,
        schedule: schedule.schedule,
        nextRunTime: storedNext === undefined ? undefined : Date.parse(storedNext),
        hasActiveJob: (await activeJobOf(ctx, schedule)) !== undefined,
        now: ctx.now.getTime(),
      });
      if (plan.createJob) await makeJob(ctx, pk, schedule);
      const next = plan.nextRunTime === undefined ? undefined : new Date(plan.nextRunTime).toISOString();
      if (plan.complete) completeSchedule(ctx, schedule);
      else if (next !== storedNext) {
        const { nextRunTime: _, ...rest } = schedule.executionInfo;
        schedule.executionInfo = next === undefined ? rest : { ...rest, nextRunTime: next };
      }
      if (plan.createJob || plan.complete || next !== storedNext) await save();
      return { ...none, createdJob: plan.createJob, wakeAt: plan.wakeAt };
    }
  }
}
