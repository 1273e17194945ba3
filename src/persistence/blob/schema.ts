import type { Migration } from '../sqlite/database.js';

export const blobMigrations: Migration[] = [
  {
    name: 'blob service: containers, blobs, committed segments, uncommitted blocks',
    sql: `
      CREATE TABLE containers (
        account        TEXT NOT NULL,
        name           TEXT NOT NULL,
        etag           TEXT NOT NULL,
        created        INTEGER NOT NULL,
        last_modified  INTEGER NOT NULL,
        metadata       TEXT NOT NULL,
        public_access  TEXT,
        access_policies TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (account, name)
      ) WITHOUT ROWID;

      CREATE TABLE blobs (
        id                  INTEGER PRIMARY KEY,
        account             TEXT NOT NULL,
        container           TEXT NOT NULL,
        name                TEXT NOT NULL,
        size                INTEGER NOT NULL,
        etag                TEXT NOT NULL,
        created             INTEGER NOT NULL,
        last_modified       INTEGER NOT NULL,
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
        blob_id  INTEGER NOT NULL REFERENCES blobs (id) ON DELETE CASCADE,
        seq      INTEGER NOT NULL,
        extent   TEXT,
        data     BLOB,
        offset   INTEGER NOT NULL,
        length   INTEGER NOT NULL,
        block_id TEXT,
        PRIMARY KEY (blob_id, seq)
      ) WITHOUT ROWID;
      CREATE INDEX blob_segments_by_extent ON blob_segments (extent);

      CREATE TABLE uncommitted_blocks (
        account   TEXT NOT NULL,
        container TEXT NOT NULL,
        blob      TEXT NOT NULL,
        block_id  TEXT NOT NULL,
        extent    TEXT NOT NULL,
        length    INTEGER NOT NULL,
        created   INTEGER NOT NULL,
        PRIMARY KEY (account, container, blob, block_id),
        FOREIGN KEY (account, container) REFERENCES containers (account, name) ON DELETE CASCADE
      ) WITHOUT ROWID;
      CREATE INDEX uncommitted_blocks_by_extent ON uncommitted_blocks (extent);
      CREATE INDEX uncommitted_blocks_by_age ON uncommitted_blocks (created);
    `,
  },
];
