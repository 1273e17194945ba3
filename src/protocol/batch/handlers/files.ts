import { batchErrors } from '../../../domain/batch/errors.js';
import type { FileEntry, FileRoot, NodeFileAccess } from '../../../domain/batch/nodeFiles.js';
import { getNode } from '../../../domain/batch/nodes/nodeOperations.js';
import { getTask } from '../../../domain/batch/tasks/lookup.js';
import type { Call, Handler } from '../call.js';
import type { FilterFields } from '../odata/filter.js';
import { listBody, nextLink, pageInMemory } from '../odata/listing.js';
import { httpDate } from '../respond.js';

const FILE_FIELDS: FilterFields = { name: { type: 'string' } };

/** Where a file request goes: the node that has the files, and the directory they are under. */
interface FileScope {
  poolId: string;
  nodeId: string;
  root: FileRoot;
  /** The URL files are listed under. */
  url: string;
}

function taskScope(call: Call): FileScope {
  const { task, job } = getTask(call.ctx, call.p.jobId!, call.p.taskId!);
  const node = task.nodeInfo;
  if (!node?.poolId || !node.nodeId) throw batchErrors.taskFilesUnavailable();
  return { poolId: node.poolId, nodeId: node.nodeId, root: { kind: 'task', jobId: job.id, taskId: task.id }, url: `${call.urls.task(job.id, task.id)}/files` };
}

function nodeScope(call: Call): FileScope {
  const { pool, node } = getNode(call.ctx, call.p.poolId!, call.p.nodeId!);
  return { poolId: pool.doc.id, nodeId: node.id, root: { kind: 'node' }, url: `${call.urls.node(pool.doc.id, node.id)}/files` };
}

function access(call: Call): NodeFileAccess {
  if (!call.files) throw batchErrors.taskFilesUnavailable();
  return call.files;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function nodeFile(scope: FileScope, f: FileEntry) {
  return {
    name: f.name,
    url: `${scope.url}/${encodeURIComponent(f.name)}`,
    isDirectory: f.isDirectory,
    properties: {
      creationTime: iso(f.ctimeMs),
      lastModified: iso(f.mtimeMs),
      contentLength: f.size,
      ...(f.isDirectory ? {} : { contentType: 'application/octet-stream' }),
      fileMode: f.mode.toString(8).padStart(4, '0'),
    },
  };
}

function fileHeaders(scope: FileScope, f: FileEntry) {
  return {
    'ocp-creation-time': httpDate(f.ctimeMs),
    'ocp-batch-file-isdirectory': String(f.isDirectory),
    'ocp-batch-file-url': `${scope.url}/${encodeURIComponent(f.name)}`,
    'ocp-batch-file-mode': f.mode.toString(8).padStart(4, '0'),
    'Content-Type': 'application/octet-stream',
    'Last-Modified': httpDate(f.mtimeMs),
  };
}

const RANGE = /^bytes=(\d+)-(\d*)$/;

const listFiles = (scopeOf: (call: Call) => FileScope): Handler => async (call) => {
  const scope = scopeOf(call);
  const recursive = (call.req.params.get('recursive') ?? 'false').toLowerCase() === 'true';
  const entries = await access(call).list(call.ctx.account, scope.poolId, scope.nodeId, scope.root, '', recursive);
  const page = pageInMemory(call.req, entries.map((e) => ({ ...e })), FILE_FIELDS, (e) => e.name);
  call.respond.json(200, listBody(call.urls.metadata('files'), page.items.map((f) => JSON.stringify(nodeFile(scope, f))), page.next && nextLink(call.req, page.next)));
};

const getFile = (scopeOf: (call: Call) => FileScope): Handler => async (call) => {
  const scope = scopeOf(call);
  const files = access(call);
  if (call.req.method === 'HEAD') {
    const stat = await files.stat(call.ctx.account, scope.poolId, scope.nodeId, scope.root, call.p.filePath!);
    call.respond.empty(200, { ...fileHeaders(scope, stat), 'Content-Length': stat.size });
    return;
  }
  const rangeHeader = call.req.header('ocp-range');
  const m = rangeHeader ? RANGE.exec(rangeHeader) : null;
  const range = m ? { start: Number(m[1]), end: m[2] ? Number(m[2]) : undefined } : undefined;
  const file = await files.read(call.ctx.account, scope.poolId, scope.nodeId, scope.root, call.p.filePath!, range);
  try {
    const modifiedSince = call.req.header('if-modified-since');
    if (modifiedSince && Math.floor(file.stat.mtimeMs / 1000) <= Math.floor(Date.parse(modifiedSince) / 1000)) {
      file.body.resume();
      call.respond.empty(304);
      return;
    }
    const length = file.range ? file.range.end - file.range.start + 1 : file.stat.size;
    await call.respond.stream(200, { ...fileHeaders(scope, file.stat), 'Content-Length': length }, file.body);
  } finally {
    file.done();
  }
};

const deleteFile = (scopeOf: (call: Call) => FileScope): Handler => async (call) => {
  const scope = scopeOf(call);
  const recursive = (call.req.params.get('recursive') ?? 'false').toLowerCase() === 'true';
  await access(call).remove(call.ctx.account, scope.poolId, scope.nodeId, scope.root, call.p.filePath!, recursive);
  call.respond.empty(200);
};

export const listFromTask = listFiles(taskScope);
export const getFromTask = getFile(taskScope);
export const deleteFromTask = deleteFile(taskScope);
export const listFromNode = listFiles(nodeScope);
export const getFromNode = getFile(nodeScope);
export const deleteFromNode = deleteFile(nodeScope);
