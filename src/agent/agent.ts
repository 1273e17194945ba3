import fs from 'node:fs';
import os from 'node:os';
import {
  AGENT_PREFIX,
  FILE_RESULT_HEADER,
  type FileCommand,
  type AgentCommand,
  type AgentReport,
  type JoinRequest,
  type JoinResponse,
  type ReportsRequest,
  type TaskCommand,
} from '../protocol/agent/messages.js';
import type { NodeIdentity } from './environment.js';
import { answerFileCommand } from './files.js';
import { killLeftoverTasks, NodeLayout, type TaskDirs } from './layout.js';
import { TaskDirRetention } from './retention.js';
import { runTask, type TaskRun } from './runTask.js';
import { canSeparateUsers } from './users.js';

export interface AgentOptions {
  batchUrl: string;
  poolId: string;
  joinToken: string;
  rootDir: string;
  nodeId?: string;
  isDedicated?: boolean;
  log?: (message: string) => void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const backoff = (attempt: number) => new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)));

/**
 * A compute node: joins a pool through the agent protocol, then runs what the Batch service sends
 * (start task, job preparation/release, tasks) and reports back. It keeps no state the server needs:
 * if it dies, the server notices the silence and gives its tasks to other nodes.
 */
export class NodeAgent {
  private readonly layout: NodeLayout;
  private readonly retention: TaskDirRetention;
  private readonly runs = new Map<string, TaskRun>();
  private readonly outbox: AgentReport[] = [];
  private flushing: Promise<void> | undefined;
  private session: JoinResponse | undefined;
  private stopped = false;
  private readonly log: (m: string) => void;

  constructor(private readonly opts: AgentOptions) {
    this.layout = new NodeLayout(opts.rootDir);
    this.retention = new TaskDirRetention(this.layout);
    this.log = opts.log ?? ((m) => console.error(m));
  }

  /** Runs until told to leave the pool, or until `stop()`. */
  async run(): Promise<void> {
    while (!this.stopped) {
      this.layout.prepare();
      killLeftoverTasks(this.layout);
      this.retention.load();
      this.session = await this.join();
      this.log(`node ${this.session.nodeId} joined pool ${this.opts.poolId}`);
      const next = await this.serve();
      this.killAll();
      if (next === 'leave') return;
      if (next === 'reimage') fs.rmSync(this.opts.rootDir, { recursive: true, force: true });
    }
  }

  stop(): void {
    this.stopped = true;
    this.retention.stop();
    this.killAll();
  }

  private async join(): Promise<JoinResponse> {
    const body: JoinRequest = {
      nodeId: this.opts.nodeId,
      hostname: os.hostname(),
      isDedicated: this.opts.isDedicated ?? true,
      canSeparateUsers: canSeparateUsers(),
    };
    for (let attempt = 0; ; attempt++) {
      try {
        const joined = await this.call<JoinResponse>('POST', `/pools/${encodeURIComponent(this.opts.poolId)}/nodes`, this.opts.joinToken, body);
        this.opts.nodeId = joined.nodeId;
        return joined;
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) throw err;
        await backoff(attempt);
      }
    }
  }

  /** Holds the command stream open (reconnecting as needed) until a command ends this session. */
  private async serve(): Promise<'reboot' | 'reimage' | 'leave'> {
    // The server hears from the node at least this often, even when it has nothing to report: an
    // open command stream alone does not show the agent is alive.
    const session = this.session!;
    const heartbeat = setInterval(() => {
      const beat: ReportsRequest = { reports: [], running: [...this.runs.keys()] };
      void this.call('POST', `/nodes/${session.nodeId}/reports`, session.nodeToken, beat).catch(() => undefined);
    }, session.heartbeatMs);
    try {
      return await this.serveCommands();
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async serveCommands(): Promise<'reboot' | 'reimage' | 'leave'> {
    for (let failures = 0; !this.stopped; ) {
      const session = this.session!;
      let response: Response;
      try {
        response = await fetch(`${this.opts.batchUrl.replace(/\/$/, '')}${AGENT_PREFIX}/nodes/${session.nodeId}/commands`, {
          headers: { authorization: `Bearer ${session.nodeToken}` },
        });
      } catch {
        await backoff(failures++);
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel();
        // Removed from the pool, or the pool is gone: nothing left to serve.
        if (response.status === 401 || response.status === 404 || response.status === 410) return 'leave';
        // The server counted this node lost (or restarted) and requeued its tasks: start over.
        if (response.status === 409) return 'reboot';
        await backoff(failures++);
        continue;
      }
      failures = 0;
      const ended = await this.readCommands(response.body!, session.heartbeatMs * 3);
      if (ended) return ended;
    }
    return 'leave';
  }

  /** Reads command lines off the stream; a stream silent for longer than heartbeats allow is dead. */
  private async readCommands(body: ReadableStream<Uint8Array>, silenceMs: number): Promise<'reboot' | 'reimage' | 'leave' | undefined> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let watchdog = setTimeout(() => void reader.cancel(), silenceMs);
    try {
      for (;;) {
        const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
        if (done || this.stopped) return undefined;
        clearTimeout(watchdog);
        watchdog = setTimeout(() => void reader.cancel(), silenceMs);
        buffer += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim() === '') continue;
          for (const command of JSON.parse(line) as AgentCommand[]) {
            const ended = this.handle(command);
            if (ended) {
              void reader.cancel();
              return ended;
            }
          }
        }
      }
    } finally {
      clearTimeout(watchdog);
    }
  }

  private handle(command: AgentCommand): 'reboot' | 'reimage' | 'leave' | undefined {
    switch (command.type) {
      case 'runTask':
        this.start(command);
        return undefined;
      case 'killTask':
        this.runs.get(command.runId)?.kill();
        return undefined;
      case 'files':
        void this.answerFiles(command);
        return undefined;
      case 'removeTaskDirs':
        fs.rmSync(command.taskId ? this.layout.task(command.jobId, command.taskId).taskDir : this.layout.jobDir(command.jobId), { recursive: true, force: true });
        return undefined;
      default:
        return command.type;
    }
  }

  private dirsFor(command: TaskCommand): TaskDirs {
    switch (command.kind) {
      case 'starttask':
        return this.layout.startTask();
      case 'jobpreparation':
        return this.layout.jobPreparation(command.jobId!);
      case 'jobrelease':
        return this.layout.jobRelease(command.jobId!);
      default:
        return this.layout.task(command.jobId!, command.taskId!);
    }
  }

  private start(command: TaskCommand): void {
    const session = this.session!;
    const node: NodeIdentity = {
      accountName: session.accountName,
      accountUrl: session.accountUrl,
      poolId: this.opts.poolId,
      nodeId: session.nodeId,
      isDedicated: this.opts.isDedicated ?? true,
    };
    const jobPreparation = command.kind === 'task' && command.jobId && fs.existsSync(this.layout.jobPreparation(command.jobId).taskDir)
      ? this.layout.jobPreparation(command.jobId)
      : undefined;
    const dirs = this.dirsFor(command);
    if (command.kind === 'task') this.retention.cancel(dirs.taskDir);
    const run = runTask(node, this.layout, dirs, { ...command, jobPreparation });
    this.runs.set(command.runId, run);
    if (command.kind === 'task' && command.retentionMs !== undefined) {
      const retentionMs = command.retentionMs;
      void run.done.then(() => this.retention.retain(dirs.taskDir, retentionMs));
    }
    run.done
      .then((result) => this.report({ type: 'completed', runId: command.runId, result }))
      .catch((err: unknown) =>
        this.report({
          type: 'completed',
          runId: command.runId,
          result: {
            startTime: new Date().toISOString(),
            endTime: new Date().toISOString(),
            result: 'failure',
            failureInfo: { category: 'servererror', code: 'NodeAgentError', message: String(err) },
            preProcessingError: true,
            fileUploadError: false,
          },
        }),
      )
      .finally(() => this.runs.delete(command.runId));
  }

  /** Queues a report; reports go out in batches, one request at a time. */
  private report(report: AgentReport): void {
    this.outbox.push(report);
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  private async flush(): Promise<void> {
    for (let attempt = 0; this.outbox.length > 0 && !this.stopped; ) {
      const batch = this.outbox.splice(0, this.outbox.length);
      try {
        const session = this.session!;
        await this.call('POST', `/nodes/${session.nodeId}/reports`, session.nodeToken, { reports: batch });
        attempt = 0;
      } catch (err) {
        if (err instanceof HttpError && err.status < 500) {
          this.log(`reports refused: ${err.message}`);
          continue;
        }
        this.outbox.unshift(...batch);
        await backoff(attempt++);
      }
    }
  }

  /** File API requests: the result in a header, a file's bytes as the body, straight to the server. */
  private async answerFiles(command: FileCommand): Promise<void> {
    const { result, body, length } = answerFileCommand(this.layout, command);
    const session = this.session!;
    try {
      const response = await fetch(`${this.opts.batchUrl.replace(/\/$/, '')}${AGENT_PREFIX}/nodes/${session.nodeId}/files/${command.requestId}`, {
        method: 'POST',
        // A known length, not chunked: the server's copy of the answer ends with its last byte, not
        // whenever a closing chunk comes (the API's response to its client waits for that end).
        headers: {
          authorization: `Bearer ${session.nodeToken}`,
          [FILE_RESULT_HEADER]: JSON.stringify(result),
          ...(body ? { 'content-length': String(length ?? 0) } : {}),
        },
        body: body ? (body as unknown as ReadableStream) : '',
        duplex: 'half',
      } as RequestInit);
      await response.arrayBuffer();
    } catch (err) {
      body?.destroy();
      this.log(`answering a file request failed: ${String(err)}`);
    }
  }

  private killAll(): void {
    for (const run of this.runs.values()) run.kill();
  }

  private async call<T>(method: string, path: string, token: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.opts.batchUrl.replace(/\/$/, '')}${AGENT_PREFIX}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new HttpError(response.status, `${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }
}
