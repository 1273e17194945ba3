import { containerSasUrl } from '../auth/sasSigner.js';
import type { Account } from '../config/accounts.js';
import { parseDuration } from '../domain/batch/duration.js';
import type { CloudJob, StoredJob } from '../domain/batch/models.js';
import type { TaskCommand } from '../protocol/agent/messages.js';
import type { OutputFileSpec } from '../agent/outputFiles.js';
import type { ResourceFileSource } from '../agent/resourceFiles.js';
import type { TaskUserSpec } from '../agent/users.js';
import { runId } from './runs.js';

/** What a start task, job preparation/release task or task document says about running it. */
export interface RunnableSpec {
  commandLine?: string;
  resourceFiles?: (ResourceFileSource & { autoStorageContainerName?: string })[];
  environmentSettings?: { name: string; value?: string }[];
  outputFiles?: OutputFileSpec[];
  /** The wire name is `username` (all lower case). */
  userIdentity?: { username?: string; autoUser?: { scope?: string; elevationLevel?: string } };
  constraints?: { maxWallClockTime?: string; retentionTime?: string };
  maxWallClockTime?: string;
}

// setTimeout cannot wait longer; Azure's "unlimited" (TimeSpan.MaxValue) means no limit at all.
const MAX_TIMER_MS = 2 ** 31 - 1;

function wallClockMs(spec: RunnableSpec): number | undefined {
  const text = spec.constraints?.maxWallClockTime ?? spec.maxWallClockTime;
  const ms = text ? parseDuration(text) : undefined;
  return ms !== undefined && ms > 0 && ms <= MAX_TIMER_MS ? ms : undefined;
}

/** Azure keeps a task's directory for 7 days unless its constraints say otherwise. */
const DEFAULT_RETENTION_MS = 7 * 24 * 3600_000;

function retentionMs(spec: RunnableSpec): number {
  const text = spec.constraints?.retentionTime;
  const ms = text ? parseDuration(text) : undefined;
  return ms !== undefined && ms >= 0 ? ms : DEFAULT_RETENTION_MS;
}

export interface CommandContext {
  account: Account;
  /** The account's Blob endpoint (its auto-storage), for autoStorageContainerName. */
  blobAccountUrl: string;
  /** The pool's named user accounts, which a task's userIdentity.userName refers to. */
  userAccounts: PoolUserAccount[];
}

/** A pool's `userAccounts` entry, as far as a node needs it (no password: Kiln's nodes have no logins). */
export interface PoolUserAccount {
  name: string;
  elevationLevel?: string;
  linuxUserConfiguration?: { uid?: number; gid?: number };
}

/** The agent command for one run; auto-storage containers become SAS URLs the node can fetch. */
export function taskCommand(
  ctx: CommandContext,
  runId: string,
  kind: TaskCommand['kind'],
  spec: RunnableSpec,
  ids: { jobId?: string; taskId?: string },
  job?: CloudJob,
): TaskCommand {
  const auto = spec.userIdentity?.autoUser;
  // A named account of the pool becomes an OS user of its own on the node, with its uid/gid and
  // elevation; an auto-user is the pool's, or one made for this run (agent/users.ts).
  const userName = spec.userIdentity?.username;
  const named = userName ? ctx.userAccounts.find((u) => u.name === userName) : undefined;
  const elevated = (named ? named.elevationLevel : auto?.elevationLevel)?.toLowerCase() === 'admin';
  const scope = auto?.scope?.toLowerCase() === 'task' ? 'Task' : 'Pool';
  const user: TaskUserSpec = named
    ? { kind: 'named', name: named.name, elevated, uid: named.linuxUserConfiguration?.uid, gid: named.linuxUserConfiguration?.gid }
    : userName
      ? { kind: 'unknown', name: userName } // fails on the node with UserNotFound, as no user of the pool
      : { kind: 'auto', scope: scope === 'Task' ? 'task' : 'pool', elevated };
  const expiry = new Date(Date.now() + 24 * 3600_000);
  const resourceFiles = (spec.resourceFiles ?? []).map(({ autoStorageContainerName, ...file }) =>
    autoStorageContainerName ? { ...file, storageContainerUrl: containerSasUrl(ctx.account, ctx.blobAccountUrl, autoStorageContainerName, 'rl', expiry) } : file,
  );
  const common = (job?.['commonEnvironmentSettings'] as RunnableSpec['environmentSettings']) ?? [];
  return {
    type: 'runTask',
    runId,
    kind,
    ...ids,
    commandLine: spec.commandLine ?? '',
    resourceFiles,
    environmentSettings: [...common, ...(spec.environmentSettings ?? [])],
    outputFiles: spec.outputFiles ?? [],
    elevated,
    user,
    userIdentity: userName ?? `${scope}${elevated ? 'Admin' : 'NonAdmin'}`,
    maxWallClockMs: wallClockMs(spec),
    retentionMs: retentionMs(spec),
  };
}

/** The agent command for one try (`attempt`: its retry count) of the job's preparation task. */
export function preparationCommand(ctx: CommandContext, job: StoredJob, attempt: number): TaskCommand {
  const prep = job.doc.jobPreparationTask as RunnableSpec & { id?: string };
  return taskCommand(ctx, runId({ kind: 'jobpreparation', job: job.uid, attempt }), 'jobpreparation', prep, { jobId: job.doc.id, taskId: prep.id ?? 'jobpreparation' }, job.doc);
}
