import { findVmSize, isKnownNodeAgentSku, VM_SIZES_DOC } from './catalog.js';
import { minutes, parseDuration } from './duration.js';
import { batchErrors } from './errors.js';
import type { JsonObject } from './schema/validate.js';
import { unsupportedValueError } from './unsupported.js';

/**
 * The rules the API states beyond types and enums (shared/docs/batch-api.md §3): id syntax, value
 * ranges, properties that exclude or require each other. Each throws the BatchError Azure answers.
 */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkId(value: unknown, property = 'id'): string {
  if (typeof value !== 'string' || !ID.test(value)) {
    throw batchErrors.invalidProperty(property, value, 'The id may hold 1 to 64 letters, digits, hyphens and underscores.');
  }
  return value;
}

/** An id in a URL path: the same rule, but an unknown one is simply not found. */
export const isValidId = (value: string): boolean => ID.test(value);

function checkRange(obj: JsonObject, name: string, min: number, max: number, path: string): void {
  const v = obj[name];
  if (typeof v === 'number' && (v < min || v > max)) {
    throw batchErrors.invalidProperty(`${path}${name}`, v, `The value must be between ${min} and ${max}.`);
  }
}

function checkMinDuration(obj: JsonObject, name: string, minMs: number, path: string, maxMs = Infinity): void {
  const v = obj[name];
  if (typeof v !== 'string') return;
  const ms = parseDuration(v)!;
  if (ms < minMs || ms > maxMs) throw batchErrors.invalidProperty(`${path}${name}`, v, 'The duration is out of the permitted range.');
}

const obj = (v: unknown): JsonObject | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined);
const arr = (v: unknown): JsonObject[] => (Array.isArray(v) ? (v as JsonObject[]) : []);

export function checkUserIdentity(identity: unknown, path: string): void {
  const ui = obj(identity);
  if (ui && ui['username'] !== undefined && ui['autoUser'] !== undefined) {
    throw batchErrors.invalidProperty(`${path}userIdentity`, ui, 'Specify either username or autoUser, not both.');
  }
}

export function checkResourceFiles(files: unknown, path: string): void {
  arr(files).forEach((file, i) => {
    const at = `${path}resourceFiles[${i}]`;
    const sources = ['autoStorageContainerName', 'storageContainerUrl', 'httpUrl'].filter((s) => file[s] !== undefined);
    if (sources.length === 0) throw batchErrors.missingProperty(`${at}.httpUrl`);
    if (sources.length > 1) throw batchErrors.invalidProperty(at, sources.join(', '), 'Specify exactly one of autoStorageContainerName, storageContainerUrl and httpUrl.');
    if (file['httpUrl'] !== undefined && file['filePath'] === undefined) throw batchErrors.missingProperty(`${at}.filePath`);
    const filePath = file['filePath'];
    if (typeof filePath === 'string' && (filePath.startsWith('/') || filePath.split(/[\\/]/).includes('..'))) {
      throw batchErrors.invalidProperty(`${at}.filePath`, filePath, 'The file path must stay inside the task working directory.');
    }
    if (typeof file['fileMode'] === 'string' && !/^[0-7]{3,4}$/.test(file['fileMode'])) {
      throw batchErrors.invalidProperty(`${at}.fileMode`, file['fileMode'], 'The file mode is an octal string such as 0770.');
    }
  });
}

export function checkEnvironment(settings: unknown, path: string, property = 'environmentSettings'): void {
  arr(settings).forEach((s, i) => {
    if (typeof s['name'] === 'string' && s['name'] === '') throw batchErrors.invalidProperty(`${path}${property}[${i}].name`, '', 'The name must not be empty.');
    // No operating system can hold an `=` in a variable's name: the value would start there instead.
    if (typeof s['name'] === 'string' && s['name'].includes('=')) {
      throw batchErrors.invalidProperty(`${path}${property}[${i}].name`, s['name'], "An environment variable's name cannot contain '='.");
    }
  });
}

export function checkMetadata(metadata: unknown): void {
  arr(metadata).forEach((m, i) => {
    if (m['name'] === '') throw batchErrors.invalidProperty(`metadata[${i}].name`, '', 'The name must not be empty.');
  });
}

/** A task-like command: start task, job manager/preparation/release task, task. */
export function checkCommand(task: JsonObject, path: string): void {
  if (typeof task['commandLine'] === 'string' && task['commandLine'].trim() === '') {
    throw batchErrors.invalidProperty(`${path}commandLine`, task['commandLine'], 'The command line must not be empty.');
  }
  checkUserIdentity(task['userIdentity'], path);
  checkResourceFiles(task['resourceFiles'], path);
  checkEnvironment(task['environmentSettings'], path);
  const constraints = obj(task['constraints']);
  if (constraints) {
    if (typeof constraints['maxTaskRetryCount'] === 'number' && constraints['maxTaskRetryCount'] < -1) {
      throw batchErrors.invalidProperty(`${path}constraints.maxTaskRetryCount`, constraints['maxTaskRetryCount'], 'The value must be -1 (unlimited) or more.');
    }
    checkMinDuration(constraints, 'maxWallClockTime', 1, `${path}constraints.`);
    checkMinDuration(constraints, 'retentionTime', 0, `${path}constraints.`);
  }
  if (typeof task['maxTaskRetryCount'] === 'number' && task['maxTaskRetryCount'] < -1) {
    throw batchErrors.invalidProperty(`${path}maxTaskRetryCount`, task['maxTaskRetryCount'], 'The value must be -1 (unlimited) or more.');
  }
  checkRange(task, 'requiredSlots', 1, 256, path);
}

/** A pool's specification: PoolAddParameter, or autoPoolSpecification.pool (`path` names where). */
export function checkPoolSpec(pool: JsonObject, path: string): void {
  const vmSize = pool['vmSize'];
  if (typeof vmSize === 'string' && !findVmSize(vmSize)) {
    throw batchErrors.invalidProperty(`${path}vmSize`, vmSize, `Azure Batch offers no VM size of this name; the sizes it offers are listed in ${VM_SIZES_DOC}.`);
  }
  // cloudServiceConfiguration never gets here: the schema refuses it (unsupported.ts).
  const vm = obj(pool['virtualMachineConfiguration']);
  if (!vm) throw batchErrors.missingProperty(`${path}virtualMachineConfiguration`);
  checkVmImage(vm, `${path}virtualMachineConfiguration.`);
  checkTargets(pool, path);
  // Azure allows at most 4 slots per core of the VM size, and never more than 256.
  const size = typeof vmSize === 'string' ? findVmSize(vmSize) : undefined;
  checkRange(pool, 'taskSlotsPerNode', 1, size ? Math.min(256, 4 * size.cores) : 256, path);
  checkMinDuration(pool, 'resizeTimeout', minutes(5), path);
  checkMinDuration(pool, 'autoScaleEvaluationInterval', minutes(5), path, minutes(168 * 60));
  const start = obj(pool['startTask']);
  if (start) checkCommand(start, `${path}startTask.`);
  arr(pool['userAccounts']).forEach((u, i) => {
    if (typeof u['name'] === 'string' && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,19}$/.test(u['name'])) {
      throw batchErrors.invalidProperty(`${path}userAccounts[${i}].name`, u['name'], 'The user name is not valid.');
    }
  });
}

const WINDOWS = /windows/i;

/**
 * Kiln's nodes run tasks on the host's Linux: a node agent SKU must be one GET /nodeagentskus
 * lists (Azure answers InvalidPropertyValue for a SKU it does not have), and a Windows image is
 * refused rather than run as Linux.
 */
function checkVmImage(vm: JsonObject, path: string): void {
  const sku = vm['nodeAgentSKUId'];
  if (typeof sku === 'string' && !isKnownNodeAgentSku(sku)) {
    const reason = WINDOWS.test(sku)
      ? 'Kiln runs Linux nodes only; it does not support Windows node agent SKUs.'
      : 'Kiln does not support this node agent SKU; GET /nodeagentskus lists those it supports.';
    throw unsupportedValueError(`${path}nodeAgentSKUId`, sku, reason);
  }
  const image = obj(vm['imageReference']);
  for (const name of ['publisher', 'offer', 'sku']) {
    const v = image?.[name];
    if (typeof v === 'string' && WINDOWS.test(v)) {
      throw unsupportedValueError(`${path}imageReference.${name}`, v, 'Kiln runs Linux nodes only; it does not support Windows images.');
    }
  }
}

/**
 * At least one target is given (autoscale, which would replace them, is refused: unsupported.ts),
 * and no formula, which only an autoscale pool may have.
 */
export function checkTargets(pool: JsonObject, path: string): void {
  for (const name of ['targetDedicatedNodes', 'targetLowPriorityNodes']) checkRange(pool, name, 0, 1000, path);
  if (pool['targetDedicatedNodes'] === undefined && pool['targetLowPriorityNodes'] === undefined) {
    throw batchErrors.missingProperty(`${path}targetDedicatedNodes`);
  }
  if (pool['autoScaleFormula'] !== undefined) {
    throw batchErrors.invalidProperty(`${path}autoScaleFormula`, pool['autoScaleFormula'], 'A formula can only be given when autoscale is enabled.');
  }
}

/** poolInfo: exactly one of poolId and autoPoolSpecification. */
export function checkPoolInfo(poolInfo: JsonObject, path: string): void {
  const poolId = poolInfo['poolId'];
  const auto = obj(poolInfo['autoPoolSpecification']);
  if (poolId === undefined && !auto) throw batchErrors.missingProperty(`${path}poolInfo.poolId`);
  if (poolId !== undefined && auto) {
    throw batchErrors.invalidProperty(`${path}poolInfo`, 'poolId and autoPoolSpecification', 'Specify either poolId or autoPoolSpecification, not both.');
  }
  if (poolId !== undefined) checkId(poolId, `${path}poolInfo.poolId`);
  if (auto) {
    if (typeof auto['autoPoolIdPrefix'] === 'string' && !/^[A-Za-z0-9_-]{0,20}$/.test(auto['autoPoolIdPrefix'])) {
      throw batchErrors.invalidProperty(`${path}poolInfo.autoPoolSpecification.autoPoolIdPrefix`, auto['autoPoolIdPrefix'], 'At most 20 letters, digits, hyphens and underscores.');
    }
    const spec = obj(auto['pool']);
    if (spec) checkPoolSpec(spec, `${path}poolInfo.autoPoolSpecification.pool.`);
  }
}

/** The job-level properties shared by JobAddParameter, JobUpdate/Patch and a schedule's jobSpecification. */
export function checkJobSpec(job: JsonObject, path: string): void {
  checkRange(job, 'priority', -1000, 1000, path);
  const maxParallel = job['maxParallelTasks'];
  if (typeof maxParallel === 'number' && maxParallel !== -1 && maxParallel < 1) {
    throw batchErrors.invalidProperty(`${path}maxParallelTasks`, maxParallel, 'The value must be -1 (unlimited) or at least 1.');
  }
  const poolInfo = obj(job['poolInfo']);
  if (poolInfo) checkPoolInfo(poolInfo, path);
  const constraints = obj(job['constraints']);
  if (constraints) {
    checkMinDuration(constraints, 'maxWallClockTime', 1, `${path}constraints.`);
    if (typeof constraints['maxTaskRetryCount'] === 'number' && constraints['maxTaskRetryCount'] < -1) {
      throw batchErrors.invalidProperty(`${path}constraints.maxTaskRetryCount`, constraints['maxTaskRetryCount'], 'The value must be -1 (unlimited) or more.');
    }
  }
  for (const name of ['jobManagerTask', 'jobPreparationTask', 'jobReleaseTask']) {
    const task = obj(job[name]);
    if (!task) continue;
    if (task['id'] !== undefined) checkId(task['id'], `${path}${name}.id`);
    checkCommand(task, `${path}${name}.`);
  }
  if (job['jobReleaseTask'] !== undefined && job['jobPreparationTask'] === undefined) {
    throw batchErrors.invalidProperty(`${path}jobReleaseTask`, 'jobReleaseTask', 'A job release task requires a job preparation task.');
  }
  checkEnvironment(job['commonEnvironmentSettings'], path, 'commonEnvironmentSettings');
  checkMetadata(job['metadata']);
}

/** A job schedule's schedule and jobSpecification (JobScheduleAdd/Update/PatchParameter). */
export function checkJobScheduleSpec(params: JsonObject): void {
  const schedule = obj(params['schedule']);
  if (schedule) {
    // Azure rejects a recurrence interval or start window under a minute.
    checkMinDuration(schedule, 'recurrenceInterval', minutes(1), 'schedule.');
    checkMinDuration(schedule, 'startWindow', minutes(1), 'schedule.');
  }
  const spec = obj(params['jobSpecification']);
  if (spec) checkJobSpec(spec, 'jobSpecification.');
  checkMetadata(params['metadata']);
}
