import { AccountRegistry } from '../config/accounts.js';
import type { KilnConfig } from '../config/config.js';
import { BlobService } from '../domain/blob/service.js';
import { ExtentStore } from '../persistence/blob/extentStore.js';
import { SqliteBlobStore } from '../persistence/blob/sqliteBlobStore.js';
import { migrations } from '../persistence/migrations.js';
import { openDatabase } from '../persistence/sqlite/database.js';
import { createBlobHandler } from '../protocol/blob/server.js';
import { StorageError } from '../domain/blob/errors.js';
import { listen, type RunningServer } from '../protocol/http/server.js';
import { BatchStore } from '../persistence/batch/store.js';
import { createBatchHandler } from '../protocol/batch/server.js';
import type { BatchHooks } from '../domain/batch/context.js';

export interface RunningKiln {
  blobUrl: (account: string) => string;
  blobPort: number;
  /** The Batch service: one endpoint for every account (the account is in the signature). */
  batchUrl: string;
  batchPort: number;
  /** Where the node agent and scheduler (next issue) plug in to hear of the API's changes. */
  batchHooks: BatchHooks;
  close(): Promise<void>;
}

const GARBAGE_INTERVAL_MS = 60 * 60 * 1000;

/** Starts every Kiln service of one machine over one data directory. */
export async function startKiln(config: KilnConfig, log: (m: string) => void = (m) => console.error(m)): Promise<RunningKiln> {
  const db = openDatabase(config.dataDir, migrations);
  const accounts = new AccountRegistry(config.accounts);
  const store = new SqliteBlobStore(db);
  const blobService = new BlobService(store, new ExtentStore(config.dataDir));
  await blobService.collectGarbage();
  const garbageTimer = setInterval(() => void blobService.collectGarbage().catch((e: unknown) => log(`garbage collection failed: ${String(e)}`)), GARBAGE_INTERVAL_MS);
  garbageTimer.unref();

  const batchStore = new BatchStore(db);
  const batchHooks: BatchHooks = {};

  let blob: RunningServer | undefined;
  let batch: RunningServer;
  try {
    blob = await listen(createBlobHandler({ accounts, store, service: blobService, log }), config.host, config.blobPort, (err, res) => {
      log(`blob: unhandled ${String(err)}`);
      if (!res.headersSent && !(err instanceof StorageError)) res.writeHead(500).end();
    });
    batch = await listen(createBatchHandler({ accounts, store: batchStore, hooks: batchHooks, log }), config.host, config.batchPort, (err, res) => {
      log(`batch: unhandled ${String(err)}`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  } catch (err) {
    clearInterval(garbageTimer);
    await blob?.close();
    db.close();
    throw err;
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const blobServer = blob;
  return {
    blobPort: blobServer.port,
    blobUrl: (account) => `http://${host}:${blobServer.port}/${account}`,
    batchPort: batch.port,
    batchUrl: `http://${host}:${batch.port}`,
    batchHooks,
    async close() {
      clearInterval(garbageTimer);
      await Promise.all([blobServer.close(), batch.close()]);
      db.close();
    },
  };
}
