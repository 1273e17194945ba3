import type { BatchContext } from '../../domain/batch/context.js';
import type { EntityDoc } from '../../domain/batch/models.js';
import type { NodeFileAccess } from '../../domain/batch/nodeFiles.js';
import type { Json } from '../../domain/batch/schema/validate.js';
import { checkConditions } from './conditions.js';
import { listBody, nextLink, readSelect, render } from './odata/listing.js';
import type { BatchRequest } from './request.js';
import { httpDate, type Headers, type Responder } from './respond.js';

/** One authenticated request on its way through a handler. */
export interface Call {
  req: BatchRequest;
  /** Path parameters by name, decoded. */
  p: Record<string, string>;
  /** The domain's view of this request: store, account, the time, the hooks. */
  ctx: BatchContext;
  respond: Responder;
  /** The JSON body (undefined when empty); 413 over 1 MB, 400 when not JSON. */
  body(): Promise<Json | undefined>;
  urls: Urls;
  /** The nodes' files (task and node file APIs); absent when no nodes are wired in. */
  files?: NodeFileAccess;
}

export type Handler = (call: Call) => Promise<void> | void;

const seg = encodeURIComponent;

/** The URLs of resources, on the host the client addressed. */
export class Urls {
  constructor(readonly base: string) {}
  pool = (id: string) => `${this.base}/pools/${seg(id)}`;
  node = (poolId: string, nodeId: string) => `${this.pool(poolId)}/nodes/${seg(nodeId)}`;
  job = (id: string) => `${this.base}/jobs/${seg(id)}`;
  task = (jobId: string, taskId: string) => `${this.job(jobId)}/tasks/${seg(taskId)}`;
  jobSchedule = (id: string) => `${this.base}/jobschedules/${seg(id)}`;
  metadata = (what: string) => `${this.base}/$metadata#${what}`;
}

/** ETag, Last-Modified and DataServiceId of a resource, as answers to its changes carry them. */
export const resourceHeaders = (doc: EntityDoc, url: string): Headers => ({
  ETag: doc.eTag,
  'Last-Modified': httpDate(doc.lastModified),
  DataServiceId: url,
});

/** 201 for a new resource: no body, its ETag, Last-Modified, DataServiceId and Location. */
export function created(call: Call, doc: EntityDoc, url: string): void {
  call.respond.empty(201, { ...resourceHeaders(doc, url), Location: url });
}

/** GET of one resource: the conditional headers its operation takes, $select, the document and its headers ($expand: parameters.ts). */
export function sendEntity(call: Call, doc: EntityDoc, url: string, metadata: string): void {
  checkConditions(call.req, doc, true);
  const select = readSelect(call.req);
  const rendered = render(JSON.stringify(doc), url, select);
  const body = `{"odata.metadata":${JSON.stringify(call.urls.metadata(metadata))}${rendered === '{}' ? '}' : `,${rendered.slice(1)}`}`;
  call.respond.json(200, body, resourceHeaders(doc, url));
}

/** 200 with one page of a list: its rendered items, and the link to the next page when there is one. */
export function sendList(call: Pick<Call, 'req' | 'respond' | 'urls'>, metadata: string, items: string[], next: string | undefined): void {
  call.respond.json(200, listBody(call.urls.metadata(metadata), items, next && nextLink(call.req, next)));
}
