import type { BatchContext } from '../context.js';
import { batchErrors } from '../errors.js';
import type { CloudJobSchedule, Stored } from '../models.js';
import { isValidId } from '../validation.js';

/** The job schedule an operation addresses; JobScheduleNotFound when there is none. */
export async function getJobSchedule(ctx: BatchContext, scheduleId: string): Promise<Stored<CloudJobSchedule>> {
  const schedule = isValidId(scheduleId) ? await ctx.store.jobSchedules.get(ctx.account, scheduleId) : undefined;
  if (!schedule) throw batchErrors.jobScheduleNotFound();
  return schedule;
}

/** Refuses a change to a schedule being deleted, being terminated or completed. */
export function checkChangeable(schedule: CloudJobSchedule): void {
  if (schedule.state === 'deleting') throw batchErrors.jobScheduleBeingDeleted();
  if (schedule.state === 'completed') throw batchErrors.jobScheduleCompleted();
  if (schedule.state === 'terminating') throw batchErrors.jobScheduleBeingTerminated();
}

export async function saveJobSchedule(ctx: BatchContext, schedule: CloudJobSchedule): Promise<void> {
  await ctx.store.jobSchedules.update(ctx.account, schedule);
}
