import { batchErrors } from '../../domain/batch/errors.js';
import type { Handler } from './call.js';
import * as account from './handlers/account.js';
import * as jobs from './handlers/jobs.js';
import * as jobSchedules from './handlers/jobSchedules.js';
import * as nodes from './handlers/nodes.js';
import * as pools from './handlers/pools.js';
import * as files from './handlers/files.js';
import * as tasks from './handlers/tasks.js';

/** The Batch API's operations: method + path pattern (`{name}` matches one decoded segment). */
const ROUTES: [string, string, Handler][] = [
  ['GET', '/supportedimages', account.listSupportedImages],
  ['GET', '/nodeagentskus', account.listNodeAgentSkus],
  ['GET', '/nodecounts', account.listPoolNodeCounts],
  ['GET', '/poolusagemetrics', account.listPoolUsageMetrics],
  ['GET', '/applications', account.emptyList('applications')],
  ['GET', '/certificates', account.emptyList('certificates')],

  ['POST', '/pools', pools.add],
  ['GET', '/pools', pools.list],
  ['GET', '/pools/{poolId}', pools.get],
  ['HEAD', '/pools/{poolId}', pools.exists],
  ['DELETE', '/pools/{poolId}', pools.remove],
  ['PATCH', '/pools/{poolId}', pools.patch],
  ['POST', '/pools/{poolId}/updateproperties', pools.updateProperties],
  ['POST', '/pools/{poolId}/resize', pools.resize],
  ['POST', '/pools/{poolId}/stopresize', pools.stopResize],
  ['POST', '/pools/{poolId}/enableautoscale', pools.enableAutoScaleHandler],
  ['POST', '/pools/{poolId}/disableautoscale', pools.disableAutoScaleHandler],
  ['POST', '/pools/{poolId}/evaluateautoscale', pools.evaluateAutoScaleHandler],
  ['POST', '/pools/{poolId}/removenodes', pools.removeNodesHandler],

  ['GET', '/pools/{poolId}/nodes', nodes.list],
  ['GET', '/pools/{poolId}/nodes/{nodeId}', nodes.get],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/reboot', nodes.reboot],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/reimage', nodes.reimage],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/disablescheduling', nodes.disableScheduling],
  ['POST', '/pools/{poolId}/nodes/{nodeId}/enablescheduling', nodes.enableScheduling],

  ['POST', '/jobs', jobs.add],
  ['GET', '/jobs', jobs.list],
  ['GET', '/jobs/{jobId}', jobs.get],
  ['PATCH', '/jobs/{jobId}', jobs.patch],
  ['PUT', '/jobs/{jobId}', jobs.update],
  ['DELETE', '/jobs/{jobId}', jobs.remove],
  ['POST', '/jobs/{jobId}/disable', jobs.disable],
  ['POST', '/jobs/{jobId}/enable', jobs.enable],
  ['POST', '/jobs/{jobId}/terminate', jobs.terminate],
  ['GET', '/jobs/{jobId}/taskcounts', jobs.taskCounts],
  ['GET', '/jobs/{jobId}/jobpreparationandreleasetaskstatus', jobs.prepAndReleaseStatus],

  ['POST', '/jobschedules', jobSchedules.add],
  ['GET', '/jobschedules', jobSchedules.list],
  ['GET', '/jobschedules/{jobScheduleId}', jobSchedules.get],
  ['HEAD', '/jobschedules/{jobScheduleId}', jobSchedules.exists],
  ['PATCH', '/jobschedules/{jobScheduleId}', jobSchedules.patch],
  ['PUT', '/jobschedules/{jobScheduleId}', jobSchedules.update],
  ['DELETE', '/jobschedules/{jobScheduleId}', jobSchedules.remove],
  ['POST', '/jobschedules/{jobScheduleId}/disable', jobSchedules.disable],
  ['POST', '/jobschedules/{jobScheduleId}/enable', jobSchedules.enable],
  ['POST', '/jobschedules/{jobScheduleId}/terminate', jobSchedules.terminate],
  ['GET', '/jobschedules/{jobScheduleId}/jobs', jobSchedules.listJobsOf],

  ['POST', '/jobs/{jobId}/tasks', tasks.add],
  ['GET', '/jobs/{jobId}/tasks', tasks.list],
  ['POST', '/jobs/{jobId}/addtaskcollection', tasks.addCollection],
  ['GET', '/jobs/{jobId}/tasks/{taskId}', tasks.get],
  ['PUT', '/jobs/{jobId}/tasks/{taskId}', tasks.update],
  ['DELETE', '/jobs/{jobId}/tasks/{taskId}', tasks.remove],
  ['POST', '/jobs/{jobId}/tasks/{taskId}/terminate', tasks.terminate],
  ['POST', '/jobs/{jobId}/tasks/{taskId}/reactivate', tasks.reactivate],
  ['GET', '/jobs/{jobId}/tasks/{taskId}/subtasksinfo', tasks.subtasks],
  ['GET', '/jobs/{jobId}/tasks/{taskId}/files', files.listFromTask],
  ['GET', '/jobs/{jobId}/tasks/{taskId}/files/{filePath}', files.getFromTask],
  ['HEAD', '/jobs/{jobId}/tasks/{taskId}/files/{filePath}', files.getFromTask],
  ['DELETE', '/jobs/{jobId}/tasks/{taskId}/files/{filePath}', files.deleteFromTask],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/files', files.listFromNode],
  ['GET', '/pools/{poolId}/nodes/{nodeId}/files/{filePath}', files.getFromNode],
  ['HEAD', '/pools/{poolId}/nodes/{nodeId}/files/{filePath}', files.getFromNode],
  ['DELETE', '/pools/{poolId}/nodes/{nodeId}/files/{filePath}', files.deleteFromNode],
];

interface CompiledRoute {
  method: string;
  parts: string[];
  handler: Handler;
}

const COMPILED: CompiledRoute[] = ROUTES.map(([method, path, handler]) => ({ method, parts: path.split('/').filter(Boolean), handler }));

function matchParts(parts: string[], segments: string[]): Record<string, string> | undefined {
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.startsWith('{')) params[part.slice(1, -1)] = segments[i]!;
    else if (part !== segments[i]) return undefined;
  }
  return params;
}

/** The operation a request names; ResourceNotFound (404) or UnsupportedHttpVerb (405) if none. */
export function route(method: string, segments: string[]): { handler: Handler; params: Record<string, string> } {
  let pathKnown = false;
  for (const r of COMPILED) {
    const params = matchParts(r.parts, segments);
    if (!params) continue;
    if (r.method === method) return { handler: r.handler, params };
    pathKnown = true;
  }
  throw pathKnown ? batchErrors.unsupportedVerb(method) : batchErrors.resourceNotFound();
}

/** The operations, for documentation and tests. */
export const OPERATIONS: readonly string[] = ROUTES.map(([m, p]) => `${m} ${p}`);
