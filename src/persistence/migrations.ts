import type { Migration } from './sqlite/database.js';
import { batchMigrations } from './batch/schema.js';
import { blobMigrations } from './blob/schema.js';

/** Every schema step of Kiln's database, in the order they were introduced. Append only. */
export const migrations: Migration[] = [...blobMigrations, ...batchMigrations];
