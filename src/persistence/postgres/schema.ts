import type { Migration } from '../sqlite/database.js';
import { batchPostgresMigrations } from './batchSchema.js';
import { blobPostgresMigrations } from './blobSchema.js';

/**
 * Every schema step of Kiln's PostgreSQL database, in the order they were introduced: the
 * counterpart of src/persistence/migrations.ts, step for step (test/contract/postgres.test.ts checks
 * that both make the same tables, columns and indexes). Append only.
 */
export const postgresMigrations: Migration[] = [...blobPostgresMigrations, ...batchPostgresMigrations];
