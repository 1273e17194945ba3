import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { batchErrors } from '../domain/batch/errors.js';
import type { FileEntry, FileRoot, NodeFileAccess } from '../domain/batch/nodeFiles.js';
import type { FileCommand, FileResult } from '../protocol/agent/messages.js';
import type { ClusterContext } from './context.js';

interface Answer {
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
  private readonly pending = new Map<string, (answer: Answer) => void>();

  constructor(private readonly cluster: ClusterContext) {}

  /** The agent's answer has arrived (POST /nodes/{n}/files/{requestId}). */
  answer(requestId: string, answer: Answer): boolean {
    const resolve = this.pending.get(requestId);
    if (!resolve) return false;
    this.pending.delete(requestId);
    resolve(answer);
    return true;
  }

  private ask(account: string, poolId: string, nodeId: string, command: Omit<FileCommand, 'type' | 'requestId'>): Promise<Answer> {
    const pool = this.cluster.store.pools.get(account, poolId);
    const session = pool && this.cluster.session(account, pool.pk, nodeId);
    if (!session) return Promise.reject(batchErrors.taskFilesUnavailable());
    const requestId = randomUUID();
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(batchErrors.taskFilesUnavailable());
      }, ANSWER_TIMEOUT_MS);
      this.pending.set(requestId, (answer) => {
        clearTimeout(timer);
        if (answer.result.ok) {
          resolve(answer);
          return;
        }
        answer.body.resume();
        answer.finish();
        reject(answer.result.error === 'invalidrange' ? batchErrors.invalidRange() : answer.result.error === 'notempty' ? batchErrors.directoryNotEmpty() : batchErrors.fileNotFound());
      });
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
