import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { batchErrors } from '../domain/batch/errors.js';
import type { FileEntry, FileRoot, NodeFileAccess } from '../domain/batch/nodeFiles.js';
import type { FileCommand, FileResult } from '../protocol/agent/messages.js';
import type { ClusterContext } from './context.js';
import type { NodeSession } from './session.js';

export interface FileAnswer {
  result: FileResult;
  body: IncomingMessage;
  /** Ends the agent's upload request once the body has been passed on. */
  finish(): void;
}

const ANSWER_TIMEOUT_MS = 30_000;

/**
 * The file APIs reach a node's files through its agent: a file command goes out with the node's
 * next poll, and the agent posts the answer (and a file's bytes) back, which is streamed on to the
 * API's client. This works alike for local nodes and for agents behind NAT on other machines.
 */
export class FileRequests implements NodeFileAccess {
  /** Requests waiting for their answer, with the node (session key) each was sent to. */
  private readonly pending = new Map<string, { node: string; resolve: (answer: FileAnswer) => void }>();

  constructor(private readonly cluster: ClusterContext) {}

  /**
   * The agent's answer has arrived (POST /nodes/{n}/files/{requestId}). Only the node the request
   * went to answers it: false for any other, and for a request that is not (or no longer) waiting.
   */
  answer(from: NodeSession, requestId: string, answer: FileAnswer): boolean {
    const waiting = this.pending.get(requestId);
    if (!waiting || waiting.node !== from.key) return false;
    this.pending.delete(requestId);
    waiting.resolve(answer);
    return true;
  }

  private async ask(account: string, poolId: string, nodeId: string, command: Omit<FileCommand, 'type' | 'requestId'>): Promise<FileAnswer> {
    const pool = await this.cluster.store.pools.get(account, poolId);
    const session = pool && this.cluster.session(account, pool.pk, nodeId);
    if (!session) return Promise.reject(batchErrors.taskFilesUnavailable());
    const requestId = randomUUID();
    return new Promise<FileAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(batchErrors.taskFilesUnavailable());
      }, ANSWER_TIMEOUT_MS);
      const resolveWith = (answer: FileAnswer) => {
        clearTimeout(timer);
        // What the API answers with must be there: a stat or read without the file's stat failed.
        if (answer.result.ok && (answer.result.stat || (command.op !== 'stat' && command.op !== 'read'))) {
          resolve(answer);
          return;
        }
        answer.body.resume();
        answer.finish();
        const error = answer.result.ok ? 'failed' : answer.result.error;
        // forbidden: a directory the node needs; 409 as Azure answers an operation the state does not allow.
        const refused = error === 'forbidden' ? batchErrors.operationInvalidForCurrentState('The directory is needed by the node and cannot be deleted.') : undefined;
        reject(refused ?? (error === 'invalidrange' ? batchErrors.invalidRange() : error === 'notempty' ? batchErrors.directoryNotEmpty() : batchErrors.fileNotFound()));
      };
      this.pending.set(requestId, { node: session.key, resolve: resolveWith });
      session.send({ type: 'files', requestId, ...command });
    });
  }

  async list(account: string, poolId: string, nodeId: string, root: FileRoot, path: string, recursive: boolean): Promise<FileEntry[]> {
    const answer = await this.ask(account, poolId, nodeId, { op: 'list', root, path, recursive });
    answer.body.resume();
    answer.finish();
    return answer.result.ok ? (answer.result.entries ?? []) : [];
  }

  async stat(account: string, poolId: string, nodeId: string, root: FileRoot, path: string): Promise<FileEntry> {
    const answer = await this.ask(account, poolId, nodeId, { op: 'stat', root, path });
    answer.body.resume();
    answer.finish();
    return (answer.result as { stat: FileEntry }).stat;
  }

  async read(account: string, poolId: string, nodeId: string, root: FileRoot, path: string, range?: { start: number; end?: number }) {
    const answer = await this.ask(account, poolId, nodeId, { op: 'read', root, path, range });
    const result = answer.result as { stat: FileEntry; range?: { start: number; end: number } };
    return { stat: result.stat, range: result.range, body: answer.body, done: answer.finish };
  }

  async remove(account: string, poolId: string, nodeId: string, root: FileRoot, path: string, recursive: boolean): Promise<void> {
    const answer = await this.ask(account, poolId, nodeId, { op: 'delete', root, path, recursive });
    answer.body.resume();
    answer.finish();
  }
}
