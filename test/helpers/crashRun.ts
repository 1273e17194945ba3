import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { BatchServiceClient, BatchServiceModels } from '@azure/batch';
import { addPool, sharedTempDir, stopKiln, uid } from '../nodes/helpers.js';
import { startKiln, waitFor, type KilnProcess } from './kiln.js';

export interface CrashRunOptions {
  tasks: number;
  /** How many times the server is killed with SIGKILL and restarted on the same data. */
  kills: number;
  /** Clients upload blobs while the server is killed. */
  uploads: boolean;
  log?: (message: string) => void;
  timeoutMs?: number;
}

export interface CrashRunReport {
  tasks: number;
  kills: number;
  /** Runs that started, over all attempts: tasks plus reruns. */
  runsStarted: number;
  reruns: number;
  /** What the tasks' requeueCount and retryCount add up to (every rerun is counted in one of them). */
  counted: number;
  /** Runs that found an earlier run of their task still alive: must be 0. */
  overlaps: number;
  /** Acknowledged tasks that did not end completed with exit code 0: must be 0. */
  unfinished: number;
  blobsAcknowledged: number;
  /** Acknowledged blobs missing or with other bytes after the restarts: must be 0. */
  blobsLost: number;
  seconds: number;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * One run of a task in the crash test: holds its task's lock for as long as any of its processes
 * lives (the descriptor is inherited), so a run that finds the lock held ran while an earlier run of
 * the same task was still alive. Every run appends to the ledgers; the lock files are made beforehand,
 * writable by every task user.
 */
const TASK_SCRIPT = `#!/bin/sh
L=$(dirname "$0")
exec 9<"$L/locks/$AZ_BATCH_TASK_ID"
if ! flock -n 9; then echo "$AZ_BATCH_TASK_ID" >> "$L/overlaps"; exit 3; fi
echo "$AZ_BATCH_TASK_ID" >> "$L/started"
sleep 0.05
echo "$AZ_BATCH_TASK_ID" >> "$L/done"
`;

const lines = (file: string): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/**
 * Tasks (and, optionally, uploads) run while `kiln up` is killed with SIGKILL and restarted on the
 * same data, `kills` times; then every acknowledged task must complete, none may have run twice at
 * once, and every acknowledged blob must read back whole.
 */
export async function crashRun(opts: CrashRunOptions): Promise<CrashRunReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const ledger = sharedTempDir('kiln-crash-ledger-');
  fs.mkdirSync(path.join(ledger, 'locks'), { mode: 0o777 });
  fs.chmodSync(path.join(ledger, 'locks'), 0o777);
  for (const name of ['started', 'done', 'overlaps']) fs.writeFileSync(path.join(ledger, name), '', { mode: 0o666 });
  for (const name of ['started', 'done', 'overlaps']) fs.chmodSync(path.join(ledger, name), 0o666);
  fs.writeFileSync(path.join(ledger, 'task.sh'), TASK_SCRIPT, { mode: 0o755 });
  const taskIds = Array.from({ length: opts.tasks }, (_, i) => `t${i}`);
  for (const id of taskIds) fs.writeFileSync(path.join(ledger, 'locks', id), '', { mode: 0o644 });

  let kiln: KilnProcess = await startKiln({ extraArgs: ['--node-lost-after', '2000'] });
  const restart = async (): Promise<KilnProcess> =>
    startKiln({ dataDir: kiln.dataDir, nodesDir: kiln.nodesDir, blobPort: kiln.blobPort, batchPort: kiln.batchPort, extraArgs: ['--node-lost-after', '2000'] });
  try {
    let client: BatchServiceClient = kiln.batchClient();
    const poolId = uid('crash');
    const jobId = uid('crash-job');
    await addPool(client, poolId, 2, { taskSlotsPerNode: 4 });
    await client.job.add({ id: jobId, poolInfo: { poolId } });
    const command = `/bin/sh ${ledger}/task.sh`;
    const acknowledged = new Set<string>();
    for (let i = 0; i < taskIds.length; i += 100) {
      const result = await client.task.addCollection(
        jobId,
        taskIds.slice(i, i + 100).map((id) => ({ id, commandLine: command })),
      );
      for (const r of result.value ?? []) if (r.status === 'success') acknowledged.add(r.taskId!);
    }
    log(`${acknowledged.size} tasks acknowledged`);

    const blobs = new Map<string, string>();
    let uploading = opts.uploads;
    const uploader = async (): Promise<void> => {
      for (let i = 0; uploading; i++) {
        const container = kiln.blobService().getContainerClient('crash');
        const name = `blob-${i}`;
        const body = randomBytes(16 * 1024 + ((i * 7919) % (512 * 1024)));
        try {
          await container.createIfNotExists();
          await container.getBlockBlobClient(name).upload(body, body.length);
          blobs.set(name, sha(body));
        } catch {
          // the server is down: try the next one when it is back
          await waitFor('the blob service', async () => ((await fetch(`${kiln.blobUrl}?comp=list`).catch(() => undefined)) ? true : undefined), 60_000).catch(() => undefined);
        }
      }
    };
    const uploads = opts.uploads ? uploader() : Promise.resolve();

    for (let k = 0; k < opts.kills; k++) {
      const goal = Math.floor((opts.tasks * (k + 1)) / (opts.kills + 1));
      await waitFor(`${goal} tasks done before kill ${k + 1}`, () => (lines(path.join(ledger, 'done')).length >= goal ? true : undefined), opts.timeoutMs ?? 120_000);
      log(`kill -9 ${k + 1} with ${lines(path.join(ledger, 'done')).length} runs done`);
      await kiln.kill9();
      kiln = await restart();
      client = kiln.batchClient();
    }

    // Task counts are cheap to ask for; listing every task on each poll would starve the server.
    await waitFor(
      'every acknowledged task to complete',
      async () => ((await client.job.getTaskCounts(jobId)).taskCounts.completed >= acknowledged.size ? true : undefined),
      opts.timeoutMs ?? 120_000,
    );
    const first = await client.task.list(jobId, { taskListOptions: { select: 'id,state,executionInfo' } });
    const tasks: BatchServiceModels.CloudTask[] = [...first];
    for (let next = first.odatanextLink; next;) {
      const page = await client.task.listNext(next);
      tasks.push(...page);
      next = page.odatanextLink;
    }
    uploading = false;
    await uploads;

    const runsStarted = lines(path.join(ledger, 'started')).length;
    const unfinished = tasks.filter((t) => acknowledged.has(t.id!) && !(t.state === 'completed' && t.executionInfo?.exitCode === 0)).length;
    const counted = tasks.reduce((n, t) => n + (t.executionInfo?.requeueCount ?? 0) + (t.executionInfo?.retryCount ?? 0), 0);
    let blobsLost = 0;
    const container = kiln.blobService().getContainerClient('crash');
    for (const [name, digest] of blobs) {
      const bytes = await container
        .getBlockBlobClient(name)
        .downloadToBuffer()
        .catch(() => undefined);
      if (!bytes || sha(bytes) !== digest) blobsLost++;
    }
    await client.job.deleteMethod(jobId);
    await client.pool.deleteMethod(poolId);
    return {
      tasks: acknowledged.size,
      kills: opts.kills,
      runsStarted,
      reruns: runsStarted - new Set(lines(path.join(ledger, 'started'))).size,
      counted,
      overlaps: lines(path.join(ledger, 'overlaps')).length,
      unfinished,
      blobsAcknowledged: blobs.size,
      blobsLost,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await stopKiln(kiln, ledger);
  }
}
