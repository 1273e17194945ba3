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

export interface RunningKiln {
  blobUrl: (account: string) => string;
  blobPort: number;
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

  let blob: RunningServer;
  try {
    blob = await listen(createBlobHandler({ accounts, store, service: blobService, log }), config.host, config.blobPort, (err, res) => {
      log(`blob: unhandled ${String(err)}`);
      if (!res.headersSent && !(err instanceof StorageError)) res.writeHead(500).end();
    });
  } catch (err) {
    clearInterval(garbageTimer);
    db.close();
    throw err;
  }
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return {
    blobPort: blob.port,
    blobUrl: (account) => `http://${host}:${blob.port}/${account}`,
    async close() {
      clearInterval(garbageTimer);
      await blob.close();
      db.close();
    },
  };
}
