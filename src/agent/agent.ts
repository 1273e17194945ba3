import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
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
import { removeIfEmpty, removeTree } from './fs/pinnedDir.js';
import { closeNodeRuns, killNodeRuns, nodeRuns } from './exec/containment.js';
import { launcherMissing } from './exec/launcher.js';
import { NodeLayout, type TaskDirs } from './layout.js';
import { TaskDirRetention } from './retention.js';
import { runTask, type TaskRun } from './runTask.js';
import type { NodeTokenStore } from './nodeTokenStore.js';
import { ServerContact } from './serverContact.js';
import { ServerHttp, type ServerAnswer } from './serverHttp.js';
import { ReachLog } from './reachLog.js';
import { admitPoolOnly, canSeparateUsers, releaseNodeUsers, removeLeftoverTaskUsers } from './users.js';

export interface AgentOptions {
  batchUrl: string;
  poolId: string;
  joinToken: string;
  rootDir: string;
  /** The node token of a node the server created for this agent (kiln up's local nodes), for its first join. */
  nodeToken?: string;
  isDedicated?: boolean;
  /** Where a remote agent keeps which node it is, to rejoin as it after a restart (nodeTokenStore.ts). */
  nodeTokens?: NodeTokenStore;
  log?: (message: string) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The report for a run the agent could not start or follow: a server error, as Azure's node agent reports its own. */
const agentFailed = (runId: string, err: unknown): AgentReport => ({
  type: 'completed',
  runId,
  result: {
    startTime: new Date().toISOString(),
    endTime: new Date().toISOString(),
    result: 'failure',
    failureInfo: { category: 'servererror', code: 'NodeAgentError', message: String(err) },
    preProcessingError: true,
    fileUploadError: false,
  },
});

/** How long a call may take before the agent has a session (and its cut-off) to go by. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * Report calls at once. Each call costs both processes CPU, and reports that end while calls are
 * under way go together in the next; but a report that waits for an answer (which comes once the
 * previous report is durable) keeps its slot idle that long. Two calls: with four, 2 nodes × 4 slots
 * ran 25–35 % fewer tasks per second; with one, 1-slot nodes ran 10–20 % fewer (docs/benchmarks.md).
 */
const REPORTS_IN_FLIGHT = 2;

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
  /** The job of each run in flight that has one, for removing a deleted job's directories after them. */
  private readonly runJobs = new Map<string, string>();
  private readonly outbox: AgentReport[] = [];
  /** Report calls under way, and calls failed in a row (for their backoff). */
  private reportCalls = 0;
  private reportFailures = 0;
  private session: JoinResponse | undefined;
  /** This session's reach of the server, and what aborts its calls when the agent is cut off. */
  private contact: ServerContact | undefined;
  private connection = new AbortController();
  /** Runs stopped because the agent was cut off: the server requeues them, their reports would only confuse it. */
  private readonly dropped = new Set<string>();
  private stopped = false;
  private readonly log: (m: string) => void;
  /** Why the server cannot be reached, logged once per reason (reachLog.ts). */
  private readonly reach: ReachLog;
  private readonly http: ServerHttp;

  constructor(private readonly opts: AgentOptions) {
    this.layout = new NodeLayout(opts.rootDir);
    this.retention = new TaskDirRetention(this.layout);
    this.log = opts.log ?? ((m) => console.error(m));
    this.reach = new ReachLog(opts.batchUrl, this.log);
    this.http = new ServerHttp(opts.batchUrl);
  }

  /** Runs until told to leave the pool, or until `stop()`. */
  async run(): Promise<void> {
    // Without it no task could start: better said once, at once, than as every task's failure.
    const missing = launcherMissing();
    if (missing) throw new Error(missing);
    while (!this.stopped) {
      this.layout.prepare();
      // What an earlier agent of this node left running, however it ended, goes before anything runs.
      killNodeRuns(this.opts.rootDir);
      removeLeftoverTaskUsers(this.opts.rootDir);
      this.retention.load();
      this.session = await this.join();
      this.log(`node ${this.session.nodeId} joined pool ${this.opts.poolId}`);
      this.remember(this.session.nodeToken);
      // From now on runs may start; the reaper kills them if this process stops reaching the server.
      nodeRuns(this.opts.rootDir).alive(this.session.cutOffMs);
      try {
        admitPoolOnly({ accountName: this.session.accountName, poolId: this.opts.poolId }, this.opts.rootDir);
      } catch (err) {
        // Its tasks fail on their own (their user cannot be made either); the agent goes on.
        this.log(`the node directory could not be given to the pool's users: ${String(err)}`);
      }
      const next = await this.serve();
      this.killAll();
      if (next === 'leave') {
        this.opts.nodeTokens?.forget();
        // The node leaves its pool: the users it made for the pool go with it, once its runs are over.
        await Promise.allSettled([...this.runs.values()].map((run) => run.done));
        releaseNodeUsers(this.opts.rootDir);
        closeNodeRuns(this.opts.rootDir);
        return;
      }
      // Tasks' files (shared/, working directories) are removed without following any link they left.
      if (next === 'reimage') removeTree(this.opts.rootDir);
    }
  }

  stop(): void {
    this.stopped = true;
    this.retention.stop();
    this.killAll();
    this.contact?.stop();
    this.connection.abort();
    this.http.close();
    closeNodeRuns(this.opts.rootDir);
  }

  private async join(): Promise<JoinResponse> {
    // A first join lets the server pick the node; a rejoin (after a reboot or reimage, or when the
    // server lost or forgot this node) proves it is the same node with its current session's token.
    // A restarted agent rejoins with the token it kept, as long as the server still takes it.
    const kept = this.session || this.opts.nodeToken !== undefined ? undefined : this.opts.nodeTokens?.load();
    let nodeToken = this.session?.nodeToken ?? this.opts.nodeToken ?? kept;
    for (let attempt = 0; ; attempt++) {
      const body: JoinRequest = {
        ...(nodeToken !== undefined ? { nodeToken } : {}),
        hostname: os.hostname(),
        isDedicated: this.opts.isDedicated ?? true,
        canSeparateUsers: canSeparateUsers(),
      };
      try {
        return await this.call<JoinResponse>('POST', `/pools/${encodeURIComponent(this.opts.poolId)}/nodes`, this.opts.joinToken, body);
      } catch (err) {
        if (err instanceof HttpError && kept !== undefined && nodeToken === kept && (err.status === 403 || err.status === 410)) {
          this.log(`the node this agent was is no longer in pool ${this.opts.poolId} (${err.message}): joining as a new node`);
          this.opts.nodeTokens?.forget();
          nodeToken = undefined;
          continue;
        }
        if (err instanceof HttpError && err.status < 500) throw new Error(`${this.opts.batchUrl} refused to let this agent join pool ${this.opts.poolId}: ${err.message}`);
        await backoff(attempt);
      }
    }
  }

  /** Keeps the new session's token for a restart; a node that cannot keep it still runs. */
  private remember(nodeToken: string): void {
    try {
      this.opts.nodeTokens?.save(nodeToken);
    } catch (err) {
      this.log(`keeping this node's identity failed (a restart will join as a new node): ${String(err)}`);
    }
  }

  /** Holds the command stream open (reconnecting as needed) until a command ends this session. */
  private async serve(): Promise<'reboot' | 'reimage' | 'leave'> {
    // The server hears from the node at least this often, even when it has nothing to report: an
    // open command stream alone does not show the agent is alive.
    const session = this.session!;
    this.connection = new AbortController();
    this.contact = new ServerContact(session.cutOffMs, () => this.cutOff());
    const heartbeat = setInterval(() => {
      const beat: ReportsRequest = { reports: [], running: [...this.runs.keys()] };
      void this.call('POST', `/nodes/${session.nodeId}/reports`, session.nodeToken, beat).catch(() => undefined);
    }, session.heartbeatMs);
    try {
      return await this.serveCommands();
    } finally {
      clearInterval(heartbeat);
      this.contact.stop();
    }
  }

  /**
   * No call has reached the server for cutOffMs: it is about to count this node lost and requeue
   * its runs, so they stop here first, unreported, and the agent joins again when it can.
   */
  private cutOff(): void {
    this.log(`no answer from the server for ${this.session?.cutOffMs} ms: stopping ${this.runs.size} run(s) and joining again`);
    for (const [runId, run] of this.runs) {
      this.dropped.add(runId);
      run.kill();
    }
    for (let i = this.outbox.length - 1; i >= 0; i--) if (this.dropped.has(this.outbox[i]!.runId)) this.outbox.splice(i, 1);
    this.connection.abort();
  }

  private async serveCommands(): Promise<'reboot' | 'reimage' | 'leave'> {
    for (let failures = 0; !this.stopped;) {
      if (this.contact?.cutOff) return 'reboot';
      const session = this.session!;
      let stream: IncomingMessage;
      try {
        stream = await this.http.open(`${AGENT_PREFIX}/nodes/${session.nodeId}/commands`, { authorization: `Bearer ${session.nodeToken}` }, this.connection.signal);
      } catch (err) {
        if (!this.connection.signal.aborted) this.reach.failed(err);
        await backoff(failures++);
        continue;
      }
      if (stream.statusCode !== 200) {
        stream.resume();
        const status = stream.statusCode ?? 0;
        // Removed from the pool, or the pool is gone: nothing left to serve.
        if (status === 401 || status === 404 || status === 410) return 'leave';
        // The server counted this node lost (or restarted) and requeued its tasks: start over.
        if (status === 409) return 'reboot';
        await backoff(failures++);
        continue;
      }
      failures = 0;
      this.reach.reached();
      const ended = await this.readCommands(stream, session.heartbeatMs * 3);
      if (ended) return ended;
    }
    return 'leave';
  }

  /** Reads command lines off the stream; a stream silent for longer than heartbeats allow is dead. */
  private async readCommands(stream: IncomingMessage, silenceMs: number): Promise<'reboot' | 'reimage' | 'leave' | undefined> {
    stream.setEncoding('utf8');
    let buffer = '';
    const watchdog = setTimeout(() => stream.destroy(), silenceMs);
    try {
      for await (const chunk of stream as AsyncIterable<string>) {
        if (this.stopped) return undefined;
        watchdog.refresh();
        buffer += chunk;
        let newline: number;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim() === '') continue;
          for (const command of JSON.parse(line) as AgentCommand[]) {
            const ended = this.handle(command);
            if (ended) {
              stream.destroy();
              return ended;
            }
          }
        }
      }
    } catch (err) {
      // Cut off, silent for too long, or stopped (the stream destroyed) end it quietly: the caller opens it again, or ends.
      if (!stream.destroyed) this.log(`the command stream broke: ${String(err)}`);
    } finally {
      clearTimeout(watchdog);
      stream.destroy();
    }
    return undefined;
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
        if (command.taskId) this.removeDir(command.jobId, this.layout.task(command.jobId, command.taskId).taskDir);
        else void this.removeJobDirs(command.jobId);
        return undefined;
      default:
        return command.type;
    }
  }

  private removeDir(jobId: string, dir: string, remove: (dir: string) => void = removeTree): void {
    try {
      // Tasks' files are removed without following any link they left there.
      remove(dir);
    } catch (err) {
      this.log(`removing the directories of job ${jobId} failed: ${String(err)}`);
    }
  }

  /**
   * A deleted job's directory (workitems/{job}, its tasks' and its preparation and release tasks'),
   * once the job's runs here have ended (its release task runs after the deletion). A run of a new
   * job of the same id, started meanwhile, keeps it.
   */
  private async removeJobDirs(jobId: string): Promise<void> {
    const ofJob = () => [...this.runJobs].filter(([, job]) => job === jobId).map(([id]) => id);
    const waited = ofJob();
    await Promise.allSettled(waited.flatMap((id) => this.runs.get(id)?.done ?? []));
    if (ofJob().some((id) => !waited.includes(id))) return;
    const dirs = this.layout.jobRemoval(jobId);
    this.removeDir(jobId, dirs.jobDir);
    if (dirs.scheduleDir) this.removeDir(jobId, dirs.scheduleDir, removeIfEmpty);
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

  /** Starts a run; whatever goes wrong fails that run (reported), never the agent. */
  private start(command: TaskCommand): void {
    let run: TaskRun;
    let dirs: TaskDirs;
    try {
      const session = this.session!;
      const node: NodeIdentity = {
        accountName: session.accountName,
        accountUrl: session.accountUrl,
        poolId: this.opts.poolId,
        nodeId: session.nodeId,
        isDedicated: this.opts.isDedicated ?? true,
      };
      const jobPreparation =
        command.kind === 'task' && command.jobId && fs.existsSync(this.layout.jobPreparation(command.jobId).taskDir) ? this.layout.jobPreparation(command.jobId) : undefined;
      dirs = this.dirsFor(command);
      if (command.kind === 'task') this.retention.cancel(dirs.taskDir);
      run = runTask(node, this.layout, dirs, { ...command, jobPreparation });
    } catch (err) {
      this.report(agentFailed(command.runId, err));
      return;
    }
    this.runs.set(command.runId, run);
    if (command.jobId !== undefined) this.runJobs.set(command.runId, command.jobId);
    if (command.kind === 'task' && command.retentionMs !== undefined) {
      const retentionMs = command.retentionMs;
      const taskDir = dirs.taskDir;
      void run.done.then(() => this.retention.retain(taskDir, retentionMs)).catch((err: unknown) => this.log(`keeping ${taskDir} failed: ${String(err)}`));
    }
    run.done
      .then((result) => this.report({ type: 'completed', runId: command.runId, result }))
      .catch((err: unknown) => this.report(agentFailed(command.runId, err)))
      .finally(() => {
        this.runs.delete(command.runId);
        this.runJobs.delete(command.runId);
      });
  }

  /**
   * Queues a report. Reports go out at once, batched only while REPORTS_IN_FLIGHT calls are under
   * way. The server frees a run's slot and sends the next command when it applies the report, and
   * answers once the report is durable (docs/security.md, "Durable as Azure promises"): a report
   * that waits for the previous one's answer keeps its slot idle for that flush, a group commit.
   */
  private report(report: AgentReport): void {
    if (this.dropped.delete(report.runId)) return;
    this.outbox.push(report);
    this.sendReports();
  }

  private sendReports(): void {
    while (this.outbox.length > 0 && this.reportCalls < REPORTS_IN_FLIGHT && !this.stopped) {
      const batch = this.outbox.splice(0, this.outbox.length);
      this.reportCalls++;
      void this.sendReportBatch(batch).finally(() => {
        this.reportCalls--;
        this.sendReports();
      });
    }
  }

  /** One call; a batch the server did not get goes back to the outbox, sent again after a backoff. */
  private async sendReportBatch(batch: AgentReport[]): Promise<void> {
    try {
      const session = this.session!;
      await this.call('POST', `/nodes/${session.nodeId}/reports`, session.nodeToken, { reports: batch });
      this.reportFailures = 0;
    } catch (err) {
      if (err instanceof HttpError && err.status < 500) {
        this.log(`reports refused: ${err.message}`);
        return;
      }
      this.outbox.unshift(...batch);
      await backoff(this.reportFailures++);
    }
  }

  /** File API requests: the result in a header, a file's bytes as the body, straight to the server. */
  private async answerFiles(command: FileCommand): Promise<void> {
    // answerFileCommand never throws; nothing here may reject either (it runs unawaited).
    const { result, body, length } = answerFileCommand(this.layout, command);
    try {
      const session = this.session!;
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
    const sentAt = Date.now();
    let answer: ServerAnswer;
    try {
      // A server that stopped answering (but still accepts connections) must not hold calls forever.
      answer = await this.http.call(
        method,
        `${AGENT_PREFIX}${path}`,
        { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body ? JSON.stringify(body) : undefined,
        this.session?.cutOffMs ?? CALL_TIMEOUT_MS,
      );
    } catch (err) {
      this.reach.failed(err);
      throw err;
    }
    const { status, text } = answer;
    if (status < 200 || status > 299) {
      const refused = new HttpError(status, `${method} ${path}: ${status} ${text.slice(0, 200)}`);
      // A server that answers but cannot serve (5xx) is as unreachable as one that does not answer.
      if (status >= 500) this.reach.failed(refused);
      throw refused;
    }
    this.reach.reached();
    this.contact?.reached(sentAt);
    if (this.session) nodeRuns(this.opts.rootDir).alive(this.session.cutOffMs);
    return (text ? JSON.parse(text) : {}) as T;
  }
}
