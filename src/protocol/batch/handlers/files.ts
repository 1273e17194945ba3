import { batchErrors } from '../../../domain/batch/errors.js';
import type { FileEntry, FileRoot, NodeFileAccess } from '../../../domain/batch/nodeFiles.js';
import { getNode } from '../../../domain/batch/nodes/nodeOperations.js';
import { getTask } from '../../../domain/batch/tasks/lookup.js';
import { sendList, type Call, type Handler } from '../call.js';
import { checkConditions } from '../conditions.js';
import type { FilterFields } from '../odata/filter.js';
import { pageInMemory } from '../odata/listing.js';
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

async function taskScope(call: Call): Promise<FileScope> {
  const { task, job } = await getTask(call.ctx, call.p.jobId!, call.p.taskId!);
  const node = task.nodeInfo;
  if (!node?.poolId || !node.nodeId) throw batchErrors.taskFilesUnavailable();
  return { poolId: node.poolId, nodeId: node.nodeId, root: { kind: 'task', jobId: job.id, taskId: task.id }, url: `${call.urls.task(job.id, task.id)}/files` };
}

async function nodeScope(call: Call): Promise<FileScope> {
  const { pool, node } = await getNode(call.ctx, call.p.poolId!, call.p.nodeId!);
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

/** `recursive` (checked true/false with the query: parameters.ts). */
const recursive = (call: Call): boolean => call.req.params.get('recursive')?.toLowerCase() === 'true';

/** A file as its conditions see it: no ETag, the file's mtime as Last-Modified. */
const versionOf = (f: FileEntry) => ({ lastModified: new Date(f.mtimeMs).toISOString() });

const listFiles =
  (scopeOf: (call: Call) => Promise<FileScope>): Handler =>
  async (call) => {
    const scope = await scopeOf(call);
    const entries = await access(call).list(call.ctx.account, scope.poolId, scope.nodeId, scope.root, '', recursive(call));
    const page = pageInMemory(
      call.req,
      entries.map((e) => ({ ...e })),
      FILE_FIELDS,
      (e) => e.name,
    );
    sendList(
      call,
      'files',
      page.items.map((f) => JSON.stringify(nodeFile(scope, f))),
      page.next,
    );
  };

/** GET and HEAD of a file: If-Modified-Since (304) and If-Unmodified-Since (412) on its mtime; GET honours ocp-range. */
const getFile =
  (scopeOf: (call: Call) => Promise<FileScope>): Handler =>
  async (call) => {
    const scope = await scopeOf(call);
    const files = access(call);
    if (call.req.method === 'HEAD') {
      const stat = await files.stat(call.ctx.account, scope.poolId, scope.nodeId, scope.root, call.p.filePath!);
      checkConditions(call.req, versionOf(stat), true);
      call.respond.empty(200, { ...fileHeaders(scope, stat), 'Content-Length': stat.size });
      return;
    }
    const file = await files.read(call.ctx.account, scope.poolId, scope.nodeId, scope.root, call.p.filePath!, call.req.range);
    try {
      try {
        checkConditions(call.req, versionOf(file.stat), true);
      } catch (err) {
        file.body.resume();
        throw err;
      }
      const length = file.range ? file.range.end - file.range.start + 1 : file.stat.size;
      await call.respond.stream(200, { ...fileHeaders(scope, file.stat), 'Content-Length': length }, file.body);
    } finally {
      file.done();
    }
  };

const deleteFile =
  (scopeOf: (call: Call) => Promise<FileScope>): Handler =>
  async (call) => {
    const scope = await scopeOf(call);
    await access(call).remove(call.ctx.account, scope.poolId, scope.nodeId, scope.root, call.p.filePath!, recursive(call));
    call.respond.empty(200);
  };

export const listFromTask = listFiles(taskScope);
export const getFromTask = getFile(taskScope);
export const deleteFromTask = deleteFile(taskScope);
export const listFromNode = listFiles(nodeScope);
export const getFromNode = getFile(nodeScope);
export const deleteFromNode = deleteFile(nodeScope);
