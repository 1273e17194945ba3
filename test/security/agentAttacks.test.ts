// Attacks on the root agent by non-admin tasks, end to end: `kiln up` as root, a real pool, real
// tasks that plant links and fail so that their retry makes the agent act on what they planted.
// Each asserts the harm did not happen: a root-only 0600 marker outside keeps owner, mode and
// content; no root file is uploaded or served; the node's directories stay; the agent lives on.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { BlobSASPermissions, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { startKiln, tempDir, type KilnProcess } from '../helpers/kiln.js';
import { addPool, agentPids, nodeRoot, nonAdmin, stopKiln, uid, waitForTask } from '../nodes/helpers.js';

const SECRET = 'root only: never to be read, written or moved by a task\n';
const hour = () => new Date(Date.now() + 3600_000);

const status = async (call: Promise<unknown>): Promise<number> => (await outcome(call)).status;

/** The HTTP status and Batch error code a call ended with (200 and '' for success). */
async function outcome(call: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await call;
    return { status: 200, code: '' };
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; body?: { code?: string } };
    return { status: e.statusCode ?? 0, code: e.body?.code ?? e.code ?? '' };
  }
}

describe('non-admin tasks against their root agent', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let blobs: ContainerClient;
  let nodeId: string;
  const poolId = uid('Pool-Attacks');
  // A directory only root may write, holding the marker every attack aims at.
  const outside = tempDir('kiln-outside-');
  const marker = path.join(outside, 'secret');
  let markerStat: fs.Stats;

  const markerIntact = (): void => {
    const now = fs.lstatSync(marker);
    assert.ok(now.isFile(), 'the marker is still a plain file');
    assert.equal(fs.readFileSync(marker, 'utf8'), SECRET, 'the marker keeps its content');
    assert.equal(now.mode & 0o7777, 0o600, 'the marker keeps its mode');
    assert.equal(now.uid, 0, 'the marker keeps its owner');
    assert.equal(now.gid, markerStat.gid, 'the marker keeps its group');
    assert.equal(now.nlink, 1, 'nothing links to the marker');
    assert.deepEqual(fs.readdirSync(outside), ['secret'], 'nothing appeared beside the marker');
  };

  before(async () => {
    fs.chmodSync(outside, 0o755);
    fs.writeFileSync(marker, SECRET, { mode: 0o600 });
    markerStat = fs.statSync(marker);
    kiln = await startKiln();
    client = kiln.batchClient();
    blobs = kiln.blobService().getContainerClient('attacks');
    await blobs.create();
    await blobs.getBlockBlobClient('payload.txt').upload('attacker content\n', 'attacker content\n'.length);
    nodeId = (await addPool(client, poolId, 1, { taskSlotsPerNode: 4 }))[0]!.id!;
  });
  after(async () => {
    await stopKiln(kiln, outside);
  });

  const newJob = async (): Promise<string> => {
    const id = uid('job');
    await client.job.add({ id, poolInfo: { poolId } });
    return id;
  };
  const sh = (script: string): string => `/bin/sh -c '${script}'`;

  it('a retry does not write, truncate or chown through a stdout.txt or stderr.txt the task replaced', async () => {
    const jobId = await newJob();
    // The task tries every way to swap its output files for the marker, then fails to be retried.
    const plant = `rm -rf ../stdout.txt ../stderr.txt; ln -sf ${marker} ../stdout.txt; ln -f ${marker} ../stderr.txt; mkdir ../stderr.txt; echo attempt; exit 1`;
    await client.task.add(jobId, { id: 'swap-out', commandLine: sh(plant), userIdentity: nonAdmin, constraints: { maxTaskRetryCount: 1 } });
    const task = await waitForTask(client, jobId, 'swap-out');
    assert.equal(task.executionInfo?.retryCount, 1, 'the task ran again over what it planted');
    assert.equal(task.executionInfo?.exitCode, 1);
    markerIntact();
    const stdout = path.join(nodeRoot(kiln, poolId, nodeId), 'workitems', jobId, 'job-1', 'swap-out', 'stdout.txt');
    const st = fs.lstatSync(stdout);
    assert.ok(st.isFile() && st.nlink === 1, 'stdout.txt is a file of its own');
    assert.notEqual(st.uid, 0, "owned by the task's user");
    assert.equal(fs.readFileSync(stdout, 'utf8'), 'attempt\n');
  });

  it('a retry does not download a resource file through a link the task left at its name or on its path', async () => {
    const jobId = await newJob();
    const url = await blobs.getBlobClient('payload.txt').generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: hour() });
    const plant = `rm -rf data.txt sub; ln -s ${marker} data.txt; ln -s ${outside} sub; exit 1`;
    await client.task.add(jobId, {
      id: 'swap-in',
      commandLine: sh(plant),
      userIdentity: nonAdmin,
      resourceFiles: [
        { httpUrl: url, filePath: 'data.txt' },
        { httpUrl: url, filePath: 'sub/secret' },
      ],
      constraints: { maxTaskRetryCount: 1 },
    });
    const task = await waitForTask(client, jobId, 'swap-in');
    // The first run downloaded both; the second found sub/ a link and refused to go through it.
    assert.equal(task.executionInfo?.result, 'failure');
    assert.equal(task.executionInfo?.failureInfo?.code, 'BlobDownloadMiscError');
    assert.match(task.executionInfo?.failureInfo?.message ?? '', /not a directory \(a link or a file\)/);
    markerIntact();
    const data = path.join(nodeRoot(kiln, poolId, nodeId), 'workitems', jobId, 'job-1', 'swap-in', 'wd', 'data.txt');
    const st = fs.lstatSync(data);
    assert.ok(st.isFile(), 'the link at data.txt was replaced by the download, not followed');
    assert.notEqual(st.uid, 0);
    assert.equal(fs.readFileSync(data, 'utf8'), 'attacker content\n');
  });

  it('output files are never read through a link: a linked root file is not uploaded', async () => {
    const jobId = await newJob();
    const containerUrl = await blobs.generateSasUrl({ permissions: ContainerSASPermissions.parse('rw'), expiresOn: hour() });
    const upload = (filePattern: string, blob: string) => ({
      filePattern,
      destination: { container: { containerUrl, path: blob } },
      uploadOptions: { uploadCondition: 'taskcompletion' as const },
    });
    await client.task.add(jobId, {
      id: 'leak',
      commandLine: sh(`ln -s ${marker} leak.txt; ln -s ${outside} dir; ln ${marker} hard.txt 2>/dev/null; echo mine > mine.txt`),
      userIdentity: nonAdmin,
      outputFiles: [upload('leak.txt', 'out/leak.txt'), upload('dir/secret', 'out/dir-secret'), upload('*.txt', 'out/all'), upload('dir/*', 'out/dir-all')],
    });
    const task = await waitForTask(client, jobId, 'leak');
    assert.equal(task.executionInfo?.failureInfo?.code, 'FileUploadMiscError');
    const refused = (task.executionInfo?.failureInfo?.details ?? []).map((d) => d.name).sort();
    // A wildcard matches no link, but one whose fixed part (dir/) is a link is refused as a whole.
    assert.deepEqual(refused, ['dir/*', 'dir/secret', 'leak.txt']);
    const names: string[] = [];
    for await (const blob of blobs.listBlobsFlat({ prefix: 'out/' })) names.push(blob.name);
    assert.deepEqual(names, ['out/all/mine.txt'], 'only the task’s own file went up');
    markerIntact();
  });

  it('the file APIs read, stat and delete through no link, and keep the node’s own directories', async () => {
    const jobId = await newJob();
    await client.task.add(jobId, { id: 'peek', commandLine: sh(`ln -s ${marker} peek; ln -s ${outside} outdir; mkdir own; echo mine > own/file`), userIdentity: nonAdmin });
    await waitForTask(client, jobId, 'peek');
    assert.equal(await status(client.file.getFromTask(jobId, 'peek', 'wd/peek')), 404, 'a symlink to a root file is not served');
    assert.equal(await status(client.file.getFromTask(jobId, 'peek', 'wd/outdir/secret')), 404, 'nor a file through a linked directory');
    assert.equal(await status(client.file.getPropertiesFromTask(jobId, 'peek', 'wd/outdir/secret')), 404);
    assert.equal(await status(client.file.deleteFromTask(jobId, 'peek', 'wd/outdir/secret')), 404, 'nothing is deleted through a linked directory');
    assert.equal(await status(client.file.deleteFromTask(jobId, 'peek', 'wd/outdir', { recursive: true })), 200, 'the link itself may go');
    markerIntact();
    assert.equal(await status(client.file.deleteFromTask(jobId, 'peek', 'wd/own', { recursive: true })), 200, 'the task’s own files may go');
    const root = nodeRoot(kiln, poolId, nodeId);
    // './' and 'shared/..' name the root as '.' does (a bare '.' the SDK drops from the URL).
    for (const dir of ['./', 'shared/..', 'shared', 'startup', 'workitems']) {
      const refused = await outcome(client.file.deleteFromComputeNode(poolId, nodeId, dir, { recursive: true }));
      assert.deepEqual(refused, { status: 409, code: 'OperationInvalidForCurrentState' }, `the node's ${dir} is not deleted`);
    }
    for (const dir of ['shared', 'startup', 'workitems']) assert.ok(fs.statSync(path.join(root, dir)).isDirectory(), `${dir} is still there`);
  });

  it('a task that turns stdout.txt into a directory, or carries a NUL byte, fails alone and the agent keeps running tasks', async () => {
    const agents = agentPids(nodeId);
    assert.equal(agents.length, 1);
    const jobId = await newJob();
    await client.task.add(jobId, {
      id: 'dir-out',
      commandLine: sh('rm -f ../stdout.txt; mkdir ../stdout.txt; exit 1'),
      userIdentity: nonAdmin,
      constraints: { maxTaskRetryCount: 1 },
    });
    const dirOut = await waitForTask(client, jobId, 'dir-out');
    assert.equal(dirOut.executionInfo?.retryCount, 1);
    assert.equal(dirOut.executionInfo?.exitCode, 1, 'its retry ran, as any failed task’s does');
    // A NUL byte is refused at the API (Azure refuses invalid strings) or fails the task at launch.
    const nul = await status(
      client.task.add(jobId, { id: 'nul', commandLine: '/bin/echo nul', environmentSettings: [{ name: 'BAD', value: 'a\u0000b' }], userIdentity: nonAdmin }),
    );
    if (nul === 200 || nul === 201) {
      const task = await waitForTask(client, jobId, 'nul');
      assert.equal(task.executionInfo?.failureInfo?.code, 'CommandLaunchFailed');
    } else assert.equal(nul, 400);
    await client.task.add(jobId, { id: 'after', commandLine: '/bin/echo still here', userIdentity: nonAdmin });
    const next = await waitForTask(client, jobId, 'after');
    assert.equal(next.executionInfo?.result, 'success');
    assert.equal(next.nodeInfo?.nodeId, nodeId);
    assert.deepEqual(agentPids(nodeId), agents, 'the same agent process ran it');
  });
});
