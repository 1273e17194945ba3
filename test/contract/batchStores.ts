import fs from 'node:fs';
import { after } from 'node:test';
import type { BatchStore } from '../../src/domain/batch/store.js';
import { sqliteBatchStore } from '../../src/persistence/batch/store.js';
import { migrations } from '../../src/persistence/migrations.js';
import { postgresBatchStore } from '../../src/persistence/postgres/batchStore.js';
import { openPostgres } from '../../src/persistence/postgres/database.js';
import { postgresMigrations } from '../../src/persistence/postgres/schema.js';
import { openDatabase } from '../../src/persistence/sqlite/database.js';
import { tempDir } from '../helpers/kiln.js';
import { freshDatabase, startPostgres, type PostgresServer } from '../helpers/postgres.js';

/** A Batch store over fresh, empty data. */
export interface OpenedBatchStore {
  store: BatchStore;
  close(): Promise<void>;
}

export interface BatchStoreFactory {
  name: string;
  open(): Promise<OpenedBatchStore>;
}

/** SQLite as `kiln up` opens it (WAL, migrated), in a temporary directory. */
const sqlite: BatchStoreFactory = {
  name: 'SQLite',
  async open() {
    const dir = tempDir('kiln-contract-batch-');
    const db = openDatabase(dir, migrations);
    return {
      store: sqliteBatchStore(db),
      async close() {
        db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** This test file's PostgreSQL server (docs/postgres.md), started when a suite first opens a store and stopped after the file's tests. */
let server: Promise<PostgresServer> | undefined;
after(async () => {
  await (await server)?.stop();
});

/** A fresh, migrated database on this test file's PostgreSQL server (started on first use): its URL. */
export async function freshBatchDatabase(): Promise<string> {
  server ??= startPostgres();
  return freshDatabase((await server).url);
}

/** PostgreSQL as `kiln up --store postgres://…` opens it, on a fresh database. */
const postgres: BatchStoreFactory = {
  name: 'PostgreSQL',
  async open() {
    const db = await openPostgres(await freshBatchDatabase(), postgresMigrations);
    return { store: postgresBatchStore(db), close: () => db.close() };
  },
};

/** Every Batch store the contract suite runs against. */
export const batchStoreFactories: BatchStoreFactory[] = [sqlite, postgres];
