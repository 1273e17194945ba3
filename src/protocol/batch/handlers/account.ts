import { nodeAgentSkus, SUPPORTED_IMAGES } from '../../../domain/batch/catalog.js';
import { poolNodeCounts } from '../../../domain/batch/nodes/nodeOperations.js';
import { sendList, type Handler } from '../call.js';
import type { FilterFields } from '../odata/filter.js';
import { pageInMemory } from '../odata/listing.js';

/** GET /supportedimages: the images Kiln's nodes stand for (see domain/batch/catalog.ts). */
export const listSupportedImages: Handler = ({ req, respond, urls }) => {
  const items = SUPPORTED_IMAGES.map((img) => ({ ...img }) as Record<string, unknown>);
  const page = pageInMemory(
    req,
    items,
    {
      osType: { type: 'enum' },
      verificationType: { type: 'enum' },
      nodeAgentSKUId: { type: 'id' },
    },
    (img) => `${String(img['nodeAgentSKUId'])}|${JSON.stringify(img['imageReference'])}`,
  );
  sendList(
    { req, respond, urls },
    'supportedimages',
    page.items.map((i) => JSON.stringify(i)),
    page.next,
  );
};

/** GET /nodeagentskus: the old API's form of the same catalogue. */
export const listNodeAgentSkus: Handler = ({ req, respond, urls }) => {
  const page = pageInMemory(req, nodeAgentSkus() as unknown as Record<string, unknown>[], { osType: { type: 'enum' }, id: { type: 'id' } }, (s) => String(s['id']));
  sendList(
    { req, respond, urls },
    'nodeagentskus',
    page.items.map((i) => JSON.stringify(i)),
    page.next,
  );
};

/** GET /nodecounts: node counts per pool by state (maxresults 1..10). */
export const listPoolNodeCounts: Handler = async ({ req, respond, urls, ctx }) => {
  const counts = (await poolNodeCounts(ctx)) as unknown as Record<string, unknown>[];
  const page = pageInMemory(req, counts, { poolId: { type: 'id' } }, (c) => String(c['poolId']).toLowerCase(), 10);
  sendList(
    { req, respond, urls },
    'poolnodecounts',
    page.items.map((i) => JSON.stringify(i)),
    page.next,
  );
};

/**
 * An account list Kiln never has an item of (it meters no usage, has no applications or
 * certificates): an empty page, its $filter and maxresults checked as Azure checks them.
 */
const emptyList =
  (what: string, fields: FilterFields): Handler =>
  ({ req, respond, urls }) => {
    pageInMemory(req, [], fields, () => '');
    sendList({ req, respond, urls }, what, [], undefined);
  };

/** GET /poolusagemetrics (starttime and endtime are checked with the query: parameters.ts). */
export const listPoolUsageMetrics = emptyList('poolusagemetrics', {
  poolId: { type: 'string' },
  vmSize: { type: 'string' },
  startTime: { type: 'datetime' },
  endTime: { type: 'datetime' },
  totalCoreHours: { type: 'number' },
});
export const listApplications = emptyList('applications', {});
export const listCertificates = emptyList('certificates', {
  thumbprint: { type: 'string' },
  thumbprintAlgorithm: { type: 'string' },
  state: { type: 'enum' },
  stateTransitionTime: { type: 'datetime' },
  previousState: { type: 'enum' },
  previousStateTransitionTime: { type: 'datetime' },
});
