import { batchErrors } from '../../../domain/batch/errors.js';
import { nodeAgentSkus, SUPPORTED_IMAGES } from '../../../domain/batch/catalog.js';
import { poolNodeCounts } from '../../../domain/batch/nodes/nodeOperations.js';
import type { Handler } from '../call.js';
import { listBody, nextLink, pageInMemory } from '../odata/listing.js';

/** GET /supportedimages: the images Kiln's nodes stand for (see domain/batch/catalog.ts). */
export const listSupportedImages: Handler = ({ req, respond, urls }) => {
  const items = SUPPORTED_IMAGES.map((img) => ({ ...img }) as Record<string, unknown>);
  const page = pageInMemory(req, items, {
    osType: { type: 'enum' },
    verificationType: { type: 'enum' },
    nodeAgentSKUId: { type: 'id' },
  }, (img) => `${String(img['nodeAgentSKUId'])}|${JSON.stringify(img['imageReference'])}`);
  respond.json(200, listBody(urls.metadata('supportedimages'), page.items.map((i) => JSON.stringify(i)), page.next && nextLink(req, page.next)));
};

/** GET /nodeagentskus: the old API's form of the same catalogue. */
export const listNodeAgentSkus: Handler = ({ req, respond, urls }) => {
  const page = pageInMemory(req, nodeAgentSkus() as unknown as Record<string, unknown>[], { osType: { type: 'enum' }, id: { type: 'id' } }, (s) => String(s['id']));
  respond.json(200, listBody(urls.metadata('nodeagentskus'), page.items.map((i) => JSON.stringify(i)), page.next && nextLink(req, page.next)));
};

/** GET /nodecounts: node counts per pool by state (maxresults 1..10). */
export const listPoolNodeCounts: Handler = ({ req, respond, urls, ctx }) => {
  const counts = poolNodeCounts(ctx) as unknown as Record<string, unknown>[];
  const page = pageInMemory(req, counts, { poolId: { type: 'id' } }, (c) => String(c['poolId']).toLowerCase(), 10);
  respond.json(200, listBody(urls.metadata('poolnodecounts'), page.items.map((i) => JSON.stringify(i)), page.next && nextLink(req, page.next)));
};

/** GET /poolusagemetrics: Kiln does not meter usage; the list is honestly empty. */
export const listPoolUsageMetrics: Handler = ({ req, respond, urls }) => {
  for (const name of ['starttime', 'endtime']) {
    const v = req.params.get(name);
    if (v !== undefined && Number.isNaN(Date.parse(v))) {
      throw batchErrors.invalidQuery(name, v, 'The value must be an ISO 8601 date-time.');
    }
  }
  respond.json(200, listBody(urls.metadata('poolusagemetrics'), []));
};

/** GET /applications and GET /certificates: Kiln has neither; empty lists. */
export const emptyList =
  (what: string): Handler =>
  ({ respond, urls }) =>
    respond.json(200, listBody(urls.metadata(what), []));
