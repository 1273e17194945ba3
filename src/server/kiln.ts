import { AccountRegistry } from '../config/accounts.js';
import type { KilnConfig } from '../config/config.js';
import { advertisedHost, localHost, urlHost, type AdvertisedHost } from '../config/advertise.js';
import { BlobService } from '../domain/blob/service.js';
import { openServiceStorage } from '../persistence/serviceStorage.js';
import { answerBlobBusy, createBlobHandler } from '../protocol/blob/server.js';
import { StorageError } from '../domain/blob/errors.js';
import { listen, type RunningServer } from '../protocol/http/server.js';
import { answerBatchBusy, createBatchHandler } from '../protocol/batch/server.js';
import type { BatchHooks } from '../domain/batch/context.js';
import { Cluster } from '../cluster/cluster.js';
import { LocalNodes } from '../cluster/local/localNodes.js';
import { AGENT_PREFIX } from '../protocol/agent/messages.js';
import { createAgentHandler } from '../protocol/agent/server.js';
import { jobScheduleTimer } from './jobScheduleTimer.js';
import { allocationTimer } from './allocationTimer.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

export interface RunningKiln {
  blobUrl: (account: string) => string;
  blobPort: number;
  /** The Batch service: one endpoint for every account (the account is in the signature). */
  batchUrl: string;
  batchPort: number;
  /** The host in every URL Kiln gives out, and why it was chosen when not given. */
  advertised: AdvertisedHost;
  /** What the API's changes are reported to: the cluster (scheduler, nodes) and the local nodes. */
  batchHooks: BatchHooks;
  cluster: Cluster;
  localNodes: LocalNodes;
  close(): Promise<void>;
}

const GARBAGE_INTERVAL_MS = 60 * 60 * 1000;

/** Starts every Kiln service of one machine over one data directory. */
export async function startKiln(config: KilnConfig, log: (m: string) => void = (m) => console.error(m)): Promise<RunningKiln> {
  const accounts = new AccountRegistry(config.accounts);
  const advertised = advertisedHost(config.host, config.advertiseHost);
  const storage = await openServiceStorage(config.dataDir, config.store ?? { kind: 'sqlite' }, { orphanExtentGraceMs: config.orphanExtentGraceMs });
  const { batchStore, blobStore: store } = storage;
  const blobService = new BlobService(store, storage.extents);
  try {
    await blobService.collectGarbage({ atStart: true });
  } catch (err) {
    await storage.close();
    throw err;
  }
  const garbageTimer = setInterval(() => void blobService.collectGarbage().catch((e: unknown) => log(`garbage collection failed: ${String(e)}`)), GARBAGE_INTERVAL_MS);
  garbageTimer.unref();

  const batchHooks: BatchHooks = {};
  // Assigned once, below, after the servers listen; `let` (not const) because closures may read them
  // before that, and must see undefined rather than throw (late wiring: issue 10 item 4 removes it).
  /* eslint-disable prefer-const */
  let cluster: Cluster | undefined;
  let localNodes: LocalNodes | undefined;
  // Agents and clients share the Batch port: agents under their own prefix, with their own tokens.
  let agentHandler: ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | undefined;
  /* eslint-enable prefer-const */
  const batchHandler = createBatchHandler({ accounts, store: batchStore, hooks: batchHooks, log, files: () => cluster?.files, durable: storage.durable });
  const batchOrAgent = (req: IncomingMessage, res: ServerResponse) => (agentHandler && req.url?.startsWith(AGENT_PREFIX) ? agentHandler(req, res) : batchHandler(req, res));

  let blob: RunningServer | undefined;
  let batch: RunningServer;
  try {
    blob = await listen(
      createBlobHandler({ accounts, store, service: blobService, log }),
      config.host,
      config.blobPort,
      (err, res) => {
        log(`blob: unhandled ${String(err)}`);
        if (!res.headersSent && !(err instanceof StorageError)) res.writeHead(500).end();
      },
      { timeouts: config.http, busy: answerBlobBusy },
    );
    batch = await listen(
      batchOrAgent,
      config.host,
      config.batchPort,
      (err, res) => {
        log(`batch: unhandled ${String(err)}`);
        if (!res.headersSent) res.writeHead(500).end();
      },
      { timeouts: config.http, busy: answerBatchBusy },
    );
  } catch (err) {
    clearInterval(garbageTimer);
    await blob?.close();
    await storage.close();
    throw err;
  }
  storage.lock.listening({ blobPort: blob.port, batchPort: batch.port });
  // URLs given out name the advertised host; kiln up's own agents come in over loopback where it listens there.
  const host = urlHost(advertised.host);
  const blobServer = blob;
  const batchUrl = `http://${host}:${batch.port}`;
  const blobAccountUrl = (account: string) => `http://${host}:${blobServer.port}/${account}`;
  cluster = await Cluster.start({
    store: batchStore,
    accounts,
    batchUrl,
    blobAccountUrl,
    log,
    timings: config.timings,
    fenceLostNode: (session) => localNodes?.fence(session.key),
  });
  localNodes = new LocalNodes(cluster, {
    batchUrl: `http://${urlHost(localHost(config.host))}:${batch.port}`,
    nodesDir: config.nodesDir,
    cliEntry: fileURLToPath(new URL('../cli/main.js', import.meta.url)),
    log,
  });
  agentHandler = createAgentHandler(cluster, accounts, storage.durable);
  const clusterHooks = cluster.hooks();
  const local = localNodes;
  const schedules = jobScheduleTimer({ store: batchStore, accounts: () => accounts.all().map((a) => a.name), hooks: batchHooks, log });
  const resizeTimeouts = allocationTimer({ store: batchStore, accounts: () => accounts.all().map((a) => a.name), hooks: batchHooks, log });
  Object.assign(batchHooks, clusterHooks, {
    changed: (account: string) => {
      clusterHooks.changed?.(account);
      local.reconcile(account);
      // A schedule added or changed may move the earliest run: the timer is re-armed.
      schedules.kick();
      // A resize, a removal or a new pool may start a resize clock.
      resizeTimeouts.kick();
    },
    // A schedule's job ended: a run waiting for it may start, or the schedule complete.
    jobFinished: (_account: string, job: Parameters<NonNullable<BatchHooks['jobFinished']>>[1]) => {
      if (job['_schedulePk'] !== undefined) schedules.kick();
    },
    poolDeleting: (account: string, pool: Parameters<NonNullable<BatchHooks['poolDeleting']>>[1]) => {
      clusterHooks.poolDeleting?.(account, pool);
      local.reconcile(account);
    },
  } satisfies BatchHooks);
  // Changes the domain makes on its own during the cluster's changes reach the same hooks.
  cluster.ctx.hooks = batchHooks;
  for (const account of accounts.all()) local.reconcile(account.name);
  // Runs that fell due while the server was down are made now, if their start windows are open.
  schedules.kick();
  // Resizes whose timeout passed while the server was down stop now; the others' clocks are armed.
  resizeTimeouts.kick();
  const runningCluster = cluster;
  return {
    blobPort: blobServer.port,
    blobUrl: blobAccountUrl,
    advertised,
    batchPort: batch.port,
    batchUrl,
    batchHooks,
    cluster: runningCluster,
    localNodes: local,
    async close() {
      clearInterval(garbageTimer);
      await Promise.all([schedules.close(), resizeTimeouts.close()]);
      await local.close();
      // Command streams end first; then the requests in flight drain (new ones hear 503 ServerBusy).
      await runningCluster.close();
      // Both services drain together: neither stops listening while the other still drains.
      await Promise.all([blobServer.drain(), batch.drain()]);
      await Promise.all([blobServer.close(), batch.close()]);
      await storage.close();
    },
  };
}
