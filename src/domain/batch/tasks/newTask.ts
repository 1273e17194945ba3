import { iso, type BatchContext } from '../context.js';
import { UNLIMITED_DURATION } from '../duration.js';
import { batchErrors } from '../errors.js';
import type { CloudJob, CloudTask } from '../models.js';
import { validateModel, type Json, type JsonObject } from '../schema/validate.js';
import { checkCommand, checkId } from '../validation.js';

const MAX_DEPENDENCY_CHARS = 64_000;

/** A task id a range names: digits without a leading zero, as the ranges match them (persistence/batch/tasks.ts). */
const NUMERIC_ID = /^(0|[1-9]\d*)$/;

/**
 * A task that depends on itself could never run. Azure documents no code for it; Kiln refuses it as
 * an invalid value of the property that names the task (400 InvalidPropertyValue).
 */
function checkNotSelfDependent(id: string, dependsOn: { taskIds?: string[]; taskIdRanges?: { start: number; end: number }[] }): void {
  const self = id.toLowerCase();
  dependsOn.taskIds?.forEach((dep, i) => {
    if (dep.toLowerCase() === self) throw batchErrors.invalidProperty(`dependsOn.taskIds[${i}]`, dep, 'A task cannot depend on itself.');
  });
  if (!NUMERIC_ID.test(id)) return;
  const n = Number(id);
  dependsOn.taskIdRanges?.forEach((r, i) => {
    if (r.start <= n && n <= r.end)
      throw batchErrors.invalidProperty(`dependsOn.taskIdRanges[${i}]`, r, `The range includes the task's own id ${id}: a task cannot depend on itself.`);
  });
}

/** The rules of a task that depend on its job: dependencies, exit options, retries. */
function checkTaskForJob(job: CloudJob, task: JsonObject): void {
  const dependsOn = task['dependsOn'] as { taskIds?: string[]; taskIdRanges?: { start: number; end: number }[] } | undefined;
  if (dependsOn && ((dependsOn.taskIds?.length ?? 0) > 0 || (dependsOn.taskIdRanges?.length ?? 0) > 0)) {
    if (!job.usesTaskDependencies) throw batchErrors.taskDependenciesNotSpecified();
    dependsOn.taskIds?.forEach((id, i) => checkId(id, `dependsOn.taskIds[${i}]`));
    if ((dependsOn.taskIds ?? []).join('').length > MAX_DEPENDENCY_CHARS) throw batchErrors.taskDependencyListTooLong();
    dependsOn.taskIdRanges?.forEach((r, i) => {
      if (r.start < 0 || r.end < r.start) throw batchErrors.invalidProperty(`dependsOn.taskIdRanges[${i}]`, r, 'A range needs 0 <= start <= end.');
    });
    checkNotSelfDependent(String(task['id']), dependsOn);
  }
  const exit = task['exitConditions'] as JsonObject | undefined;
  if (exit && job.onTaskFailure === 'noaction') {
    const options: JsonObject[] = [
      ...((exit['exitCodes'] as JsonObject[] | undefined) ?? []).map((c) => c['exitOptions'] as JsonObject),
      ...((exit['exitCodeRanges'] as JsonObject[] | undefined) ?? []).map((c) => c['exitOptions'] as JsonObject),
      ...['preProcessingError', 'fileUploadError', 'default'].map((k) => exit[k] as JsonObject | undefined).filter((o): o is JsonObject => o !== undefined),
    ];
    if (options.some((o) => o['jobAction'] !== undefined)) {
      throw batchErrors.invalidProperty('exitConditions', 'jobAction', "jobAction needs the job's onTaskFailure to be performexitoptionsjobaction.");
    }
  }
  ((exit?.['exitCodeRanges'] as JsonObject[] | undefined) ?? []).forEach((r, i) => {
    if ((r['end'] as number) < (r['start'] as number)) throw batchErrors.invalidProperty(`exitConditions.exitCodeRanges[${i}]`, r, 'A range needs start <= end.');
  });
  const multi = task['multiInstanceSettings'] as JsonObject | undefined;
  if (multi) {
    const n = multi['numberOfInstances'];
    if (typeof n === 'number' && (n < 1 || n > 100)) throw batchErrors.invalidProperty('multiInstanceSettings.numberOfInstances', n, 'The value must be between 1 and 100.');
  }
}

/** A task document from a validated TaskAddParameter (or a job manager task) of this job. */
export function newTaskDoc(ctx: BatchContext, job: CloudJob, spec: JsonObject): CloudTask {
  const now = iso(ctx);
  const constraints = spec['constraints'] as JsonObject | undefined;
  // Built property by property in the order Azure answers with (a spread of the request costs
  // several times as much, and adding tasks is the service's hottest path).
  const task = {
    id: spec['id'] as string,
    eTag: '',
    lastModified: now,
    creationTime: now,
    state: 'active',
    stateTransitionTime: now,
    commandLine: spec['commandLine'] as string,
  } as CloudTask;
  for (const name in spec) if (!(name in task) && name !== 'constraints' && name !== 'requiredSlots' && name !== 'userIdentity') task[name] = spec[name];
  task.constraints = {
    maxWallClockTime: (constraints?.['maxWallClockTime'] as string | undefined) ?? UNLIMITED_DURATION,
    retentionTime: (constraints?.['retentionTime'] as string | undefined) ?? 'P7D',
    maxTaskRetryCount: (constraints?.['maxTaskRetryCount'] as number | undefined) ?? job.constraints?.maxTaskRetryCount ?? 0,
  };
  task.requiredSlots = (spec['requiredSlots'] as number | undefined) ?? 1;
  task['userIdentity'] = spec['userIdentity'] ?? { autoUser: { scope: 'pool', elevationLevel: 'nonadmin' } };
  task.executionInfo = { retryCount: 0, requeueCount: 0 };
  const multi = spec['multiInstanceSettings'] as JsonObject | undefined;
  if (multi) task.multiInstanceSettings = { numberOfInstances: 1, ...multi } as CloudTask['multiInstanceSettings'];
  return task;
}

/** Validates one TaskAddParameter for a job; returns its normal form. */
export function parseTask(job: CloudJob, body: Json): JsonObject {
  const spec = validateModel('TaskAddParameter', body);
  checkId(spec['id']);
  checkCommand(spec, '');
  checkTaskForJob(job, spec);
  return spec;
}
