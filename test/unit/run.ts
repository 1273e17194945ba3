import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `npm run test:unit`: every test/unit/*.test.ts in this one process. The tier's own work takes
 * well under a second; a process per file (as `node --test` runs them, and `npm test` does) costs
 * most of a second each to start Node and tsx. node:test reports as usual and exits non-zero when a
 * test fails. One file alone: node --import tsx --test test/unit/<name>.test.ts
 */
const dir = path.dirname(fileURLToPath(import.meta.url));
for (const name of fs
  .readdirSync(dir)
  .filter((n) => n.endsWith('.test.ts'))
  .sort()) {
  await import(pathToFileURL(path.join(dir, name)).href);
}
