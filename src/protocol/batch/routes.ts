import { batchErrors } from '../../domain/batch/errors.js';
import type { Handler } from './call.js';
import * as account from './handlers/account.js';
import * as jobs from './handlers/jobs.js';
import * as jobSchedules from './handlers/jobSchedules.js';
import * as nodes from './handlers/nodes.js';
import * as pools from './handlers/pools.js';
import * as files from './handlers/files.js';
import * as tasks from './handlers/tasks.js';
import { neverFound, notSupported } from './handlers/unsupported.js';
import { CONDITIONS, FILE_CONDITIONS, takes, type OperationParameters } from './parameters.js';

const AUTOSCALE = "Kiln does not evaluate autoscale formulas; set the pool's targetDedicatedNodes/targetLowPriorityNodes with resize instead.";
const NODE_LOGINS = 'Kiln nodes are processes on this host: they have no login users, SSH or RDP.';
const CERTIFICATE = 'certificates(thumbprintAlgorithm={thumbprintAlgorithm},thumbprint={thumbprint})';

/**
 * The Batch API's operations (every one of the REST spec's, implemented or refused): method + path
 * pattern, handler, and the query parameters and headers it takes beyond the common ones
 * (parameters.ts: api-version, timeout, client-request-id, return-client-request-id, ocp-date).
 * `{name}` matches one decoded segment; a segment with text around `{name}` (a certificate's
 * `certificates(thumbprintAlgorithm=…,thumbprint=…)`) matches that text with anything in the gaps.
 */
const NONE = takes();
const CONDITIONAL = takes([], CONDITIONS);
const GET = takes(['$select', '$expand'], CONDITIONS);
const SELECT = takes(['$select']);
const LIST = takes(['$filter', '$select', 'maxresults']);
const LIST_EXPANDABLE = takes(['$filter', '$select', '$expand', 'maxresults']);
const LIST_FILTERED = takes(['$filter', 'maxresults']);
const FORCEABLE = takes(['force'], CONDITIONS);
const LIST_FILES = takes(['recursive', '$filter', 'maxresults']);
const DELETE_FILE = takes(['recursive']);
const GET_FILE = takes([], [...FILE_CONDITIONS, 'ocp-range']);
const HEAD_FILE = takes([], FILE_CONDITIONS);

const ROUTES: [string, string, Handler, OperationParameters][] = [
  ['GET', '/supportedimages', account.listSupportedImages, LIST_FILTERED],
  ['GET', '/nodeagentskus', account.listNodeAgentSkus, LIST_FILTERED],
  ['GET', '/nodecounts', account.listPoolNodeCounts, LIST_FILTERED],
  ['GET', '/poolusagemetrics', account.listPoolUsageMetrics, takes(['starttime', 'endtime', '$filter', 'maxresults'])],
  ['GET', '/applications', account.listApplications, takes(['maxresults'])],
  ['GET', '/applications/{applicationId}', neverFound(batchErrors.applicationNotFound), NONE],
  ['GET', '/certificates', account.listCertificates, LIST],
  ['GET', `/${CERTIFICATE}`, neverFound(batchErrors.certificateNotFound), SELECT],
  ['DELETE', `/${CERTIFICATE}`, neverFound(batchErrors.certificateNotFound), NONE],
  ['POST', `/${CERTIFICATE}/canceldelete`, neverFound(batchErrors.certificateNotFound), NONE],
  // Operations Kiln does not implement: NotImplemented (400) once the pool/node in the path exists.
  ['POST', '/certificates', notSupported('Certificate_Add', 'Kiln does not support certificates (retired by Azure Batch in 2024; use Key Vault).'), NONE],
  ['GET', '/lifetimejobstats', notSupported('Job_GetAllLifetimeStatistics', 'Kiln keeps no lifetime statistics (Azure retired these APIs in 2023).'), NONE],
  ['GET', '/lifetimepoolstats', notSupported('Pool_GetAllLifetimeStatistics', 'Kiln keeps no lifetime statistics (Azure retired these APIs in 2023).'), NONE],
  ['POST', '/pools/{poolId}/enableautoscale', notSupported('Pool_EnableAutoScale', AUTOSCALE), CONDITIONAL],
  ['POST', '/pools/{poolId}/evaluateautoscale', notSupported('Pool_EvaluateAutoScale', AUTOSCALE), NONE],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/users', notSupported('ComputeNode_AddUser', NODE_LOGINS), NONE],
  ['PUT', '/pools/{poolId}/nodes/{nodeId}/users/{userName}', notSupported('ComputeNode_UpdateUser', NODE_LOGINS), NONE],
  ['DELETE', '/pools/{poolId}/nodes/{nodeId}/users/{userName}', notSupported('ComputeNode_DeleteUser', NODE_LOGINS), NONE],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/remoteloginsettings', notSupported('ComputeNode_GetRemoteLoginSettings', NODE_LOGINS), NONE],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/rdp', notSupported('ComputeNode_GetRemoteDesktop', NODE_LOGINS), NONE],
  [
    'POST',
    '/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs',
    notSupported('ComputeNode_UploadBatchServiceLogs', "Kiln's logs are on this host (kiln up's output); it does not upload them."),
    NONE,
  ],
  [
    'GET',
    '/pools/{poolId}/nodes/{nodeId}/extensions',
    notSupported('ComputeNodeExtension_List', 'Kiln nodes are not VMs and have no VM extensions.'),
    takes(['$select', 'maxresults']),
  ],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/extensions/{extensionName}', notSupported('ComputeNodeExtension_Get', 'Kiln nodes are not VMs and have no VM extensions.'), SELECT],
  [
    'POST',
    '/pools/{poolId}/nodes/{nodeId}/deallocate',
    notSupported('ComputeNode_Deallocate', 'Kiln nodes are not VMs and cannot be deallocated; remove the node or resize the pool.'),
    NONE,
  ],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/start', notSupported('ComputeNode_Start', 'Kiln nodes are not VMs and cannot be deallocated or started.'), NONE],

  ['POST', '/pools', pools.add, NONE],
  ['GET', '/pools', pools.list, LIST_EXPANDABLE],
  ['GET', '/pools/{poolId}', pools.get, GET],
  ['HEAD', '/pools/{poolId}', pools.exists, CONDITIONAL],
  ['DELETE', '/pools/{poolId}', pools.remove, CONDITIONAL],
  ['PATCH', '/pools/{poolId}', pools.patch, CONDITIONAL],
  ['POST', '/pools/{poolId}/updateproperties', pools.updateProperties, NONE],
  ['POST', '/pools/{poolId}/resize', pools.resize, CONDITIONAL],
  ['POST', '/pools/{poolId}/stopresize', pools.stopResize, CONDITIONAL],
  ['POST', '/pools/{poolId}/disableautoscale', pools.disableAutoScaleHandler, NONE],
  ['POST', '/pools/{poolId}/removenodes', pools.removeNodesHandler, CONDITIONAL],

  ['GET', '/pools/{poolId}/nodes', nodes.list, LIST],
  ['GET', '/pools/{poolId}/nodes/{nodeId}', nodes.get, SELECT],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/reboot', nodes.reboot, NONE],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/reimage', nodes.reimage, NONE],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/disablescheduling', nodes.disableScheduling, NONE],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/enablescheduling', nodes.enableScheduling, NONE],

  ['POST', '/jobs', jobs.add, NONE],
  ['GET', '/jobs', jobs.list, LIST_EXPANDABLE],
  ['GET', '/jobs/{jobId}', jobs.get, GET],
  ['PATCH', '/jobs/{jobId}', jobs.patch, CONDITIONAL],
  ['PUT', '/jobs/{jobId}', jobs.update, CONDITIONAL],
  ['DELETE', '/jobs/{jobId}', jobs.remove, FORCEABLE],
  ['POST', '/jobs/{jobId}/disable', jobs.disable, CONDITIONAL],
  ['POST', '/jobs/{jobId}/enable', jobs.enable, CONDITIONAL],
  ['POST', '/jobs/{jobId}/terminate', jobs.terminate, FORCEABLE],
  ['GET', '/jobs/{jobId}/taskcounts', jobs.taskCounts, NONE],
  ['GET', '/jobs/{jobId}/jobpreparationandreleasetaskstatus', jobs.prepAndReleaseStatus, LIST],

  ['POST', '/jobschedules', jobSchedules.add, NONE],
  ['GET', '/jobschedules', jobSchedules.list, LIST_EXPANDABLE],
  ['GET', '/jobschedules/{jobScheduleId}', jobSchedules.get, GET],
  ['HEAD', '/jobschedules/{jobScheduleId}', jobSchedules.exists, CONDITIONAL],
  ['PATCH', '/jobschedules/{jobScheduleId}', jobSchedules.patch, CONDITIONAL],
  ['PUT', '/jobschedules/{jobScheduleId}', jobSchedules.update, CONDITIONAL],
  ['DELETE', '/jobschedules/{jobScheduleId}', jobSchedules.remove, FORCEABLE],
  ['POST', '/jobschedules/{jobScheduleId}/disable', jobSchedules.disable, CONDITIONAL],
  ['POST', '/jobschedules/{jobScheduleId}/enable', jobSchedules.enable, CONDITIONAL],
  ['POST', '/jobschedules/{jobScheduleId}/terminate', jobSchedules.terminate, FORCEABLE],
  ['GET', '/jobschedules/{jobScheduleId}/jobs', jobSchedules.listJobsOf, LIST_EXPANDABLE],

  ['POST', '/jobs/{jobId}/tasks', tasks.add, NONE],
  ['GET', '/jobs/{jobId}/tasks', tasks.list, LIST_EXPANDABLE],
  ['POST', '/jobs/{jobId}/addtaskcollection', tasks.addCollection, NONE],
  ['GET', '/jobs/{jobId}/tasks/{taskId}', tasks.get, GET],
  ['PUT', '/jobs/{jobId}/tasks/{taskId}', tasks.update, CONDITIONAL],
  ['DELETE', '/jobs/{jobId}/tasks/{taskId}', tasks.remove, CONDITIONAL],
  ['POST', '/jobs/{jobId}/tasks/{taskId}/terminate', tasks.terminate, CONDITIONAL],
  ['POST', '/jobs/{jobId}/tasks/{taskId}/reactivate', tasks.reactivate, CONDITIONAL],
  ['GET', '/jobs/{jobId}/tasks/{taskId}/subtasksinfo', tasks.subtasks, SELECT],
  ['GET', '/jobs/{jobId}/tasks/{taskId}/files', files.listFromTask, LIST_FILES],
  ['GET', '/jobs/{jobId}/tasks/{taskId}/files/{filePath}', files.getFromTask, GET_FILE],
  ['HEAD', '/jobs/{jobId}/tasks/{taskId}/files/{filePath}', files.getFromTask, HEAD_FILE],
  ['DELETE', '/jobs/{jobId}/tasks/{taskId}/files/{filePath}', files.deleteFromTask, DELETE_FILE],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/files', files.listFromNode, LIST_FILES],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/files/{filePath}', files.getFromNode, GET_FILE],
  ['HEAD', '/pools/{poolId}/nodes/{nodeId}/files/{filePath}', files.getFromNode, HEAD_FILE],
  ['DELETE', '/pools/{poolId}/nodes/{nodeId}/files/{filePath}', files.deleteFromNode, DELETE_FILE],
];

/** One segment of a pattern: a literal, or a regular expression whose groups are the named parameters. */
type Part = string | { re: RegExp; names: string[] };

interface CompiledRoute {
  method: string;
  parts: Part[];
  handler: Handler;
  parameters: OperationParameters;
}

const escape = (text: string): string => text.replace(/[.*+?^$()|[\]\\]/g, '\\$&');

function compilePart(part: string): Part {
  if (!part.includes('{')) return part;
  const names: string[] = [];
  const source = part.split(/(\{\w+\})/).map((piece) => {
    if (!/^\{\w+\}$/.test(piece)) return escape(piece);
    names.push(piece.slice(1, -1));
    return '(.*?)';
  });
  return { re: new RegExp(`^${source.join('')}$`), names };
}

const COMPILED: CompiledRoute[] = ROUTES.map(([method, path, handler, parameters]) => ({ method, parts: path.split('/').filter(Boolean).map(compilePart), handler, parameters }));

function matchParts(parts: Part[], segments: string[]): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const segment = segments[i]!;
    if (typeof part === 'string') {
      if (part !== segment) return undefined;
      continue;
    }
    const m = part.re.exec(segment);
    if (!m) return undefined;
    part.names.forEach((name, j) => (params[name] = m[j + 1]!));
  }
  return params;
}

/** The operation a request names; ResourceNotFound (404) or UnsupportedHttpVerb (405) if none. */
export function route(method: string, segments: string[]): { handler: Handler; params: Record<string, string>; parameters: OperationParameters } {
  let pathKnown = false;
  for (const r of COMPILED) {
    const params = matchParts(r.parts, segments);
    if (!params) continue;
    if (r.method === method) return { handler: r.handler, params, parameters: r.parameters };
    pathKnown = true;
  }
  throw pathKnown ? batchErrors.unsupportedVerb(method) : batchErrors.resourceNotFound();
}

/** The operations, for documentation and tests. */
export const OPERATIONS: readonly string[] = ROUTES.map(([m, p]) => `${m} ${p}`);

/** Each operation's query parameters and optional headers beyond the common ones, by `METHOD /path`, for documentation and tests. */
export const OPERATION_PARAMETERS: ReadonlyMap<string, OperationParameters> = new Map(ROUTES.map(([m, p, , parameters]) => [`${m} ${p}`, parameters]));
