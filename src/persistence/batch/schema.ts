import type { Migration } from '../sqlite/database.js';

/**
 * The Batch service's state. Each entity is its wire document (`doc`, the JSON the API returns,
 * less the host-dependent `url`) plus the columns that lists filter and page on. Ids are unique
 * case-insensitively: `id_key` is the lower-cased id, and lists page in its order.
 */
const entityColumns = `
  id_key                TEXT NOT NULL,
  id                    TEXT NOT NULL,
  state                 TEXT NOT NULL,
  creation_time         TEXT NOT NULL,
  last_modified         TEXT NOT NULL,
  state_transition_time TEXT NOT NULL,
  doc                   TEXT NOT NULL`;

export const batchMigrations: Migration[] = [
  {
    name: 'batch service: pools, nodes, jobs, tasks, job schedules',
    sql: `
      CREATE TABLE batch_pools (
        pk      INTEGER PRIMARY KEY,
        account TEXT NOT NULL,${entityColumns}
      );
      CREATE UNIQUE INDEX batch_pools_by_id ON batch_pools (account, id_key);

      CREATE TABLE batch_nodes (
        pool_pk INTEGER NOT NULL REFERENCES batch_pools (pk) ON DELETE CASCADE,${entityColumns},
        PRIMARY KEY (pool_pk, id_key)
      ) WITHOUT ROWID;
      CREATE INDEX batch_nodes_by_state ON batch_nodes (pool_pk, state, id_key);

      CREATE TABLE batch_job_schedules (
        pk      INTEGER PRIMARY KEY,
        account TEXT NOT NULL,${entityColumns}
      );
      CREATE UNIQUE INDEX batch_job_schedules_by_id ON batch_job_schedules (account, id_key);

      CREATE TABLE batch_jobs (
        pk          INTEGER PRIMARY KEY,
        account     TEXT NOT NULL,${entityColumns},
        pool_id     TEXT,
        schedule_pk INTEGER
      );
      CREATE UNIQUE INDEX batch_jobs_by_id ON batch_jobs (account, id_key);
      CREATE INDEX batch_jobs_by_pool ON batch_jobs (account, pool_id);
      CREATE INDEX batch_jobs_by_schedule ON batch_jobs (schedule_pk, id_key);

      CREATE TABLE batch_tasks (
        job_pk INTEGER NOT NULL REFERENCES batch_jobs (pk) ON DELETE CASCADE,${entityColumns},
        result TEXT,
        slots  INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (job_pk, id_key)
      ) WITHOUT ROWID;
      -- Lists by state (and the scheduler's queue of active tasks) page on this index.
      CREATE INDEX batch_tasks_by_state ON batch_tasks (job_pk, state, id_key);
      -- Task counts read only this (covering) index.
      CREATE INDEX batch_tasks_counts ON batch_tasks (job_pk, state, result, slots);
    `,
  },
  {
    // A job's uid (StoredJob): made here, on insert, so that no caller can forget it; a job made
    // before this migration gets one too. 32 hex digits of randomness.
    name: 'batch service: job uids',
    sql: `
      ALTER TABLE batch_jobs ADD COLUMN uid TEXT;
      UPDATE batch_jobs SET uid = lower(hex(randomblob(16)));
      CREATE UNIQUE INDEX batch_jobs_by_uid ON batch_jobs (uid);
      CREATE TRIGGER batch_jobs_uid AFTER INSERT ON batch_jobs WHEN NEW.uid IS NULL BEGIN
        UPDATE batch_jobs SET uid = lower(hex(randomblob(16))) WHERE pk = NEW.pk;
      END;
    `,
  },
];
