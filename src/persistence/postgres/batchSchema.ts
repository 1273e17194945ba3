import type { Migration } from '../sqlite/database.js';

/**
 * The Batch service's tables in PostgreSQL: src/persistence/batch/schema.ts's, column for column and
 * index for index. Differences, each for a reason:
 * - id_key is COLLATE "C": lists page in id_key order, which must be byte order as in SQLite whatever
 *   the database's default collation (an ICU or glibc locale orders `a_1` before `a01`).
 * - doc is TEXT, not jsonb: it is the wire document, stored and returned byte for byte as SQLite does
 *   (jsonb would reorder its keys and cost a conversion on every write); the few queries that look
 *   inside it can cast (doc::jsonb), and Kiln's own state is moving to typed columns (issue 10).
 * - row ids are BIGINT identities, never reused (SQLite may reuse the largest rowid after a delete).
 */
const entityColumns = `
  id_key                TEXT COLLATE "C" NOT NULL,
  id                    TEXT NOT NULL,
  state                 TEXT NOT NULL,
  creation_time         TEXT NOT NULL,
  last_modified         TEXT NOT NULL,
  state_transition_time TEXT NOT NULL,
  doc                   TEXT NOT NULL`;

export const batchPostgresMigrations: Migration[] = [
  {
    name: 'batch service: pools, nodes, jobs, tasks, job schedules',
    sql: `
      CREATE TABLE batch_pools (
        pk      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account TEXT COLLATE "C" NOT NULL,${entityColumns}
      );
      CREATE UNIQUE INDEX batch_pools_by_id ON batch_pools (account, id_key);

      CREATE TABLE batch_nodes (
        pool_pk BIGINT NOT NULL REFERENCES batch_pools (pk) ON DELETE CASCADE,${entityColumns},
        PRIMARY KEY (pool_pk, id_key)
      );
      CREATE INDEX batch_nodes_by_state ON batch_nodes (pool_pk, state, id_key);

      CREATE TABLE batch_job_schedules (
        pk      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account TEXT COLLATE "C" NOT NULL,${entityColumns}
      );
      CREATE UNIQUE INDEX batch_job_schedules_by_id ON batch_job_schedules (account, id_key);

      CREATE TABLE batch_jobs (
        pk          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account     TEXT COLLATE "C" NOT NULL,${entityColumns},
        pool_id     TEXT,
        schedule_pk BIGINT
      );
      CREATE UNIQUE INDEX batch_jobs_by_id ON batch_jobs (account, id_key);
      CREATE INDEX batch_jobs_by_pool ON batch_jobs (account, pool_id);
      CREATE INDEX batch_jobs_by_schedule ON batch_jobs (schedule_pk, id_key);

      CREATE TABLE batch_tasks (
        job_pk BIGINT NOT NULL REFERENCES batch_jobs (pk) ON DELETE CASCADE,${entityColumns},
        result TEXT,
        slots  INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (job_pk, id_key)
      );
      -- Lists by state (and the scheduler's queue of active tasks) page on this index.
      CREATE INDEX batch_tasks_by_state ON batch_tasks (job_pk, state, id_key);
      -- Task counts read only this (covering) index.
      CREATE INDEX batch_tasks_counts ON batch_tasks (job_pk, state, result, slots);
    `,
  },
  {
    // As the SQLite store's: src/persistence/batch/schema.ts. Every row, old or new, gets its own.
    name: 'batch service: job uids',
    sql: `
      ALTER TABLE batch_jobs ADD COLUMN uid TEXT NOT NULL DEFAULT replace(gen_random_uuid()::text, '-', '');
      CREATE UNIQUE INDEX batch_jobs_by_uid ON batch_jobs (uid);
    `,
  },
];
