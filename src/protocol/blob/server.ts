import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccountRegistry } from '../../config/accounts.js';
import { StorageError, errors } from '../../domain/blob/errors.js';
import type { BlobService } from '../../domain/blob/service.js';
import type { BlobMetadataStore } from '../../domain/blob/store.js';
import { authenticate } from './authenticate.js';
import { resolveCopySource } from './copySource.js';
import { parseBlobRequest, readVersion } from './request.js';
import { createResponder, DEFAULT_VERSION } from './respond.js';
import { route } from './router.js';
import { refuseUnsupported } from './unsupported.js';
import { clientGone } from '../http/server.js';

export interface BlobServerDeps {
  accounts: AccountRegistry;
  store: BlobMetadataStore;
  service: BlobService;
  log?: (message: string) => void;
}

/** The Blob REST API as an HTTP request handler: parse, route, authenticate, handle, answer. */
export function createBlobHandler(deps: BlobServerDeps) {
  const log = deps.log ?? ((m: string) => console.error(m));
  return async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    let version = DEFAULT_VERSION;
    const respondFor = (id: string) => createResponder(res, id, raw.headers['x-ms-client-request-id'] as string | undefined, () => version, raw.method === 'HEAD');
    let respond = respondFor('-');
    try {
      const req = parseBlobRequest(raw, deps.accounts);
      respond = respondFor(req.id);
      const op = route(req);
      const now = Date.now();
      const principal = await authenticate(req, op, deps.accounts, deps.store, now);
      version = readVersion(req) ?? DEFAULT_VERSION;
      refuseUnsupported(req);
      await op.handle({
        req,
        body: raw,
        respond,
        service: deps.service,
        principal,
        version,
        resolveCopySource: (url, use) => resolveCopySource(url, use, req, principal, { ...deps, now }),
      });
    } catch (err) {
      if (res.headersSent) {
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      if (err instanceof StorageError) {
        respond.error(err);
        return;
      }
      // The client went away mid-request: nobody is left to answer.
      if (clientGone(res)) return;
      log(`blob: ${raw.method} ${raw.url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      respond.error(errors.internal());
    }
  };
}

/** What a draining server answers every new request with. */
export function answerBlobBusy(raw: IncomingMessage, res: ServerResponse): void {
  createResponder(res, randomUUID(), raw.headers['x-ms-client-request-id'] as string | undefined, () => DEFAULT_VERSION, raw.method === 'HEAD').error(errors.serverBusy());
}
