/**
 * The ids of the jobs a schedule makes, as Azure names them: `<scheduleId>:job-<n>`, n counting from
 * 1. The colon is what no client-made id may hold, so these never collide with one.
 */
export const scheduledJobId = (scheduleId: string, n: number): string => `${scheduleId}:job-${n}`;

const SCHEDULED_JOB_ID = /^([A-Za-z0-9_-]{1,64}):(job-[1-9]\d{0,15})$/;

/** Whether a job id in a URL path is one a schedule could have made. */
export const isScheduledJobId = (id: string): boolean => SCHEDULED_JOB_ID.test(id);

/**
 * Where a job's files are on a node, under its root, as Azure lays them out: workitems/<jobId>/job-1,
 * and for a schedule's job workitems/<scheduleId>/job-<n> (jobs and schedules share ids, so these
 * never meet). The id must be a valid one (the agent checks).
 */
export function jobWorkDir(jobId: string): string {
  const scheduled = SCHEDULED_JOB_ID.exec(jobId);
  return scheduled ? `workitems/${scheduled[1]}/${scheduled[2]}` : `workitems/${jobId}/job-1`;
}

/**
 * What removing a deleted job takes from a node, under its root: the directory that is the job's
 * alone (workitems/<jobId> for a job, workitems/<scheduleId>/job-<n> for a schedule's job, never its
 * schedule's other jobs'), and for a schedule's job the schedule's folder, once no job's directory
 * is left in it (a later job of the schedule makes it again).
 */
export function jobRemovalDirs(jobId: string): { jobDir: string; scheduleDir?: string } {
  const scheduled = SCHEDULED_JOB_ID.exec(jobId);
  return scheduled ? { jobDir: `workitems/${scheduled[1]}/${scheduled[2]}`, scheduleDir: `workitems/${scheduled[1]}` } : { jobDir: `workitems/${jobId}` };
}
