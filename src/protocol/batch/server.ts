import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseBatchAuthorization, verifyBatchSignature } from '../../auth/batchSharedKey.js';
import type { AccountRegistry } from '../../config/accounts.js';
import type { BatchHooks } from '../../domain/batch/context.js';
import type { NodeFileAccess } from '../../domain/batch/nodeFiles.js';
import { BatchError, batchErrors } from '../../domain/batch/errors.js';
import type { BatchStore } from '../../domain/batch/store.js';
import { Urls, type Call } from './call.js';
import { checkApiVersion, checkParameters, echoedClientRequestId } from './parameters.js';
import { parseBatchRequest, readJsonBody, type BatchRequest } from './request.js';
import { createResponder } from './respond.js';
import { route } from './routes.js';
import { clientGone } from '../http/server.js';

export interface BatchServerDeps {
  accounts: AccountRegistry;
  store: BatchStore;
  hooks?: BatchHooks;
  log?: (message: string) => void;
  /** The nodes' files, once the cluster is up. */
  files?: () => NodeFileAccess | undefined;
  /** The clock; tests of time-dependent behaviour may move it. */
  now?: () => Date;
  /** Makes the store's commits so far durable; a change is answered only after it (group commit). */
  durable?: () => Promise<void>;
}

/** How far ocp-date may be from our clock (Azure Storage allows 15 minutes; Batch alike). */
const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** One header of a request not parsed yet (the answer to a request that fails to parse still echoes what it may). */
const rawHeader =
  (raw: IncomingMessage) =>
  (name: string): string | undefined => {
    const value = raw.headers[name];
    return Array.isArray(value) ? value.join(',') : value;
  };

/** Shared Key check; the account the request acts for. */
function authenticate(req: BatchRequest, accounts: AccountRegistry, now: Date): string {
  const authorization = req.header('authorization');
  if (authorization === undefined) throw batchErrors.authenticationFailed('The request has no Authorization header; Kiln accepts Shared Key.');
  const parsed = parseBatchAuthorization(authorization);
  if (!parsed) throw batchErrors.authenticationFailed(`The Authorization header is not 'SharedKey <account>:<signature>'; Kiln accepts Shared Key only.`);
  const account = accounts.get(parsed.account.toLowerCase());
  if (!account) throw batchErrors.authenticationFailed(`The account '${parsed.account}' is not known to this server.`);
  const date = req.header('ocp-date') ?? req.header('date');
  if (date === undefined) throw batchErrors.authenticationFailed('The request has neither an ocp-date nor a Date header.');
  const ms = Date.parse(date);
  if (Number.isNaN(ms)) throw batchErrors.invalidHeader(req.header('ocp-date') !== undefined ? 'ocp-date' : 'Date', date);
  if (Math.abs(ms - now.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw batchErrors.authenticationFailed(`The request's date ${date} is more than 15 minutes from the server's time ${now.toUTCString()}.`);
  }
  const result = verifyBatchSignature(account, parsed.account, parsed.signature, req);
  if (!result.ok) {
    throw batchErrors.authenticationFailed(
      `The MAC signature found in the HTTP request '${parsed.signature}' is not the same as any computed signature. Server used following string to sign: '${result.stringToSign}'.`,
    );
  }
  return account.name;
}

/** The Batch REST API as an HTTP request handler: parse, authenticate, route, handle, answer. */
export function createBatchHandler(deps: BatchServerDeps) {
  const log = deps.log ?? ((m: string) => console.error(m));
  const clock = deps.now ?? (() => new Date());
  const hooks = deps.hooks ?? {};
  return async (raw: IncomingMessage, res: ServerResponse): Promise<void> => {
    const clientRequestId = echoedClientRequestId(rawHeader(raw));
    let respond = createResponder(res, { requestId: '-', clientRequestId, baseUrl: `http://${raw.headers.host ?? 'localhost'}`, isHead: raw.method === 'HEAD' });
    try {
      const req = parseBatchRequest(raw);
      const changes = req.method !== 'GET' && req.method !== 'HEAD';
      respond = createResponder(res, {
        requestId: req.id,
        clientRequestId,
        baseUrl: req.baseUrl,
        isHead: req.method === 'HEAD',
        beforeAnswer: changes ? deps.durable : undefined,
        onAnswerFailed: (err) => log(`batch: ${raw.method} ${raw.url}: the change could not be made durable: ${String(err)}`),
      });
      const now = clock();
      const account = authenticate(req, deps.accounts, now);
      checkApiVersion(req);
      const { handler, params, parameters } = route(req.method, req.segments);
      checkParameters(req, parameters);
      let bodyRead: Promise<ReturnType<typeof readJsonBody> extends Promise<infer T> ? T : never> | undefined;
      const call: Call = {
        req,
        p: params,
        ctx: { store: deps.store, account, now, hooks },
        respond,
        body: () => (bodyRead ??= readJsonBody(req)),
        urls: new Urls(req.baseUrl),
        files: deps.files?.(),
      };
      await handler(call);
      if (!respond.answered) throw new Error(`no answer from ${req.method} ${req.rawPath}`);
      if (changes) hooks.changed?.(account);
      await respond.written();
    } catch (err) {
      if (res.headersSent) {
        res.destroy(err instanceof Error ? err : undefined);
        return;
      }
      if (err instanceof BatchError) {
        respond.error(err);
        return;
      }
      if (clientGone(res)) return;
      log(`batch: ${raw.method} ${raw.url} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      respond.error(batchErrors.internal());
    }
  };
}

/** What a draining server answers every new request with (the agents' requests included). */
export function answerBatchBusy(raw: IncomingMessage, res: ServerResponse): void {
  createResponder(res, {
    requestId: randomUUID(),
    clientRequestId: echoedClientRequestId(rawHeader(raw)),
    baseUrl: `http://${raw.headers.host ?? 'localhost'}`,
    isHead: raw.method === 'HEAD',
  }).error(batchErrors.serverBusy());
}
