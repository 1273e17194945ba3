import type { Migration } from '../sqlite/database.js';

/**
 * The Blob service's tables in PostgreSQL: src/persistence/blob/schema.ts's, column for column and
 * index for index. Differences, each for a reason:
 * - names (accounts, containers, blobs, block ids) are COLLATE "C": Azure lists in byte order of the
 *   UTF-8 names, as SQLite compares them, and only a "C" btree serves `name LIKE 'prefix%'`.
 * - times (ms since the epoch) and sizes are BIGINT; small blobs' bytes are BYTEA.
 * - "offset" is quoted: OFFSET is a reserved word in PostgreSQL (not in SQLite), so queries quote it too.
 * - blobs.id is a BIGINT identity, never reused.
 */
export const blobPostgresMigrations: Migration[] = [
  {
    name: 'blob service: containers, blobs, committed segments, uncommitted blocks',
    sql: `
      CREATE TABLE containers (
        account         TEXT COLLATE "C" NOT NULL,
        name            TEXT COLLATE "C" NOT NULL,
        etag            TEXT NOT NULL,
        created         BIGINT NOT NULL,
        last_modified   BIGINT NOT NULL,
        metadata        TEXT NOT NULL,
        public_access   TEXT,
        access_policies TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (account, name)
      );

      CREATE TABLE blobs (
        id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account             TEXT COLLATE "C" NOT NULL,
        container           TEXT COLLATE "C" NOT NULL,
        name                TEXT COLLATE "C" NOT NULL,
        size                BIGINT NOT NULL,
        etag                TEXT NOT NULL,
        created             BIGINT NOT NULL,
        last_modified       BIGINT NOT NULL,
        content_type        TEXT,
        content_encoding    TEXT,
        content_language    TEXT,
        content_disposition TEXT,
        cache_control       TEXT,
        content_md5         TEXT,
        metadata            TEXT NOT NULL,
        copy                TEXT,
        FOREIGN KEY (account, container) REFERENCES containers (account, name) ON DELETE CASCADE
      );
      CREATE UNIQUE INDEX blobs_by_name ON blobs (account, container, name);

      -- A blob's bytes: ranges of extent files, in order, or for small blobs the bytes themselves
      -- (extent NULL, data set). block_id is set for blobs made by Put Block List.
      CREATE TABLE blob_segments (
        blob_id  BIGINT NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        extent   TEXT,
        data     BYTEA,
        "offset" BIGINT NOT NULL,
        length   BIGINT NOT NULL,
        block_id TEXT,
        PRIMARY KEY (blob_id, seq)
      );
      CREATE INDEX blob_segments_by_extent ON blob_segments (extent);

      CREATE TABLE uncommitted_blocks (
        account   TEXT COLLATE "C" NOT NULL,
        container TEXT COLLATE "C" NOT NULL,
        blob      TEXT COLLATE "C" NOT NULL,
        block_id  TEXT COLLATE "C" NOT NULL,
        extent    TEXT NOT NULL,
        length    BIGINT NOT NULL,
        created   BIGINT NOT NULL,
        PRIMARY KEY (account, container, blob, block_id),
        FOREIGN KEY (account, container) REFERENCES containers (account, name) ON DELETE CASCADE
      );
      CREATE INDEX uncommitted_blocks_by_extent ON uncommitted_blocks (extent);
      CREATE INDEX uncommitted_blocks_by_age ON uncommitted_blocks (created);
    `,
  },
];
