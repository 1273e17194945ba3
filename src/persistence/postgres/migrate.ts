import type pg from 'pg';
import type { Migration } from '../sqlite/database.js';
import { ADVISORY_LOCK_SPACE, AdvisoryLock } from './advisoryLocks.js';

/**
 * Applies the migrations a database lacks, in order, each in a transaction of its own that also
 * records it in kiln_migrations (version = its place in the list, from 1). Holds an advisory lock
 * throughout, so when several Kiln servers start at once on one database one migrates and the
 * others, once it is done, find nothing left to do. Refuses a database whose recorded migrations are
 * not a prefix of `migrations` (another Kiln's, or a newer one's): applying ours on it would corrupt it.
 */
export async function migrate(client: pg.ClientBase, migrations: Migration[]): Promise<void> {
  await client.query('SELECT pg_advisory_lock($1, $2)', [ADVISORY_LOCK_SPACE, AdvisoryLock.migrations]);
  try {
    await client.query(`
      CREATE TABLE IF NOT EXISTS kiln_migrations (
        version    INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
      )`);
    const applied = (await client.query<{ version: number; name: string }>('SELECT version, name FROM kiln_migrations ORDER BY version')).rows;
    applied.forEach(({ version, name }, i) => {
      if (version !== i + 1 || migrations[i]?.name !== name) {
        throw new Error(`the database's schema is not this Kiln's: migration ${version} is "${name}", this Kiln's is ${migrations[i] ? `"${migrations[i].name}"` : 'absent'}`);
      }
    });
    for (const [i, migration] of migrations.entries()) {
      if (i < applied.length) continue;
      await client.query('BEGIN');
      try {
        // Without parameters node-postgres sends the simple query protocol, which runs several statements.
        await client.query(migration.sql);
        await client.query('INSERT INTO kiln_migrations (version, name) VALUES ($1, $2)', [i + 1, migration.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', [ADVISORY_LOCK_SPACE, AdvisoryLock.migrations]);
  }
}
