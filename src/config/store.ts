/** Where a server keeps its state: the data directory's SQLite database (the default), or a PostgreSQL database. */
export type StoreLocation = { kind: 'sqlite' } | { kind: 'postgres'; url: string };

/**
 * `--store`'s value (or KILN_STORE's): `sqlite`, the data directory's embedded database, or a
 * PostgreSQL URL in libpq's form, postgres:// or postgresql:// (docs/postgres.md).
 */
export function parseStoreLocation(value: string | undefined): StoreLocation {
  if (value === undefined || value === '' || value === 'sqlite') return { kind: 'sqlite' };
  if (/^postgres(ql)?:\/\//i.test(value)) return { kind: 'postgres', url: value };
  throw new Error(`--store must be sqlite or a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE), not "${redactStore(value)}"`);
}

/** A store's location as it may be printed: a URL's password masked. */
export function redactStore(value: string): string {
  try {
    const url = new URL(value);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/:[^:@/]*@/, ':***@');
  }
}

/** The store as kiln up's banner names it. */
export function describeStore(location: StoreLocation, dataDir: string): string {
  return location.kind === 'sqlite' ? `SQLite in ${dataDir}` : `PostgreSQL ${redactStore(location.url)} (blob bytes in ${dataDir})`;
}
