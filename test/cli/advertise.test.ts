import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { advertisedHost, interfaceAddresses, localHost, urlHost } from '../../src/config/advertise.js';
import { KILN_BIN, nodesTempDir, startKiln, tempDir, type KilnProcess } from '../helpers/kiln.js';
import { addPool, stopKiln, taskStdout, uid, vm, waitForNodes, waitForTask } from '../nodes/helpers.js';

const nic = (address: string, internal = false) => ({ address, internal, family: 'IPv4' as const, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: `${address}/24` });

describe('the advertised host (in-process)', () => {
  it('is --advertise-host when given, else the bind host, else for a wildcard the first network address', () => {
    const interfaces = { lo: [nic('127.0.0.1', true)], eth0: [nic('169.254.1.1'), nic('10.1.2.3')], eth1: [nic('192.168.5.6')] };
    assert.deepEqual(advertisedHost('0.0.0.0', 'kiln.example', interfaces), { host: 'kiln.example' });
    assert.deepEqual(advertisedHost('0.0.0.0', '[fd00::7]', interfaces), { host: 'fd00::7' });
    assert.deepEqual(advertisedHost('10.1.2.3', undefined, interfaces), { host: '10.1.2.3' });
    const chosen = advertisedHost('0.0.0.0', undefined, interfaces);
    assert.equal(chosen.host, '10.1.2.3', 'loopback and link-local addresses are passed over');
    assert.match(chosen.because ?? '', /--host is 0\.0\.0\.0.*also here: 192\.168\.5\.6.*--advertise-host/);
    assert.equal(advertisedHost('::', undefined, interfaces).host, '10.1.2.3');
    const alone = advertisedHost('0.0.0.0', undefined, { lo: [nic('127.0.0.1', true)] });
    assert.equal(alone.host, '127.0.0.1');
    assert.match(alone.because ?? '', /no other IPv4 address/);
    assert.throws(() => advertisedHost('0.0.0.0', '0.0.0.0', interfaces), /no address to connect to/);
    assert.throws(() => advertisedHost('0.0.0.0', 'http://x/', interfaces), /host name or an IP address/);
  });

  it("goes in URLs bracketed when IPv6; kiln up's own agents come in over loopback", () => {
    assert.equal(urlHost('fd00::2'), '[fd00::2]');
    assert.equal(urlHost('10.0.0.1'), '10.0.0.1');
    assert.equal(localHost('0.0.0.0'), '127.0.0.1');
    assert.equal(localHost('::'), '::1');
    assert.equal(localHost('10.0.0.1'), '10.0.0.1');
  });
});

/** A task's AZ_BATCH_ACCOUNT_URL and what a missing auto-storage container's download failure names. */
async function urlsGivenToTasks(client: BatchServiceClient, kiln: KilnProcess, poolId: string): Promise<{ accountUrl: string; resourceUrl: string }> {
  const jobId = uid('job');
  await client.job.add({ id: jobId, poolInfo: { poolId } });
  await client.task.add(jobId, { id: 'env', commandLine: `/bin/sh -c 'echo $AZ_BATCH_ACCOUNT_URL'` });
  await client.task.add(jobId, { id: 'res', commandLine: '/bin/true', resourceFiles: [{ autoStorageContainerName: uid('missing') }] });
  assert.equal((await waitForTask(client, jobId, 'env')).executionInfo?.result, 'success');
  const res = await waitForTask(client, jobId, 'res');
  const resourceUrl = res.executionInfo?.failureInfo?.details?.find((d) => d.name === 'FilePath')?.value ?? '';
  return { accountUrl: (await taskStdout(kiln, client, jobId, 'env')).trim(), resourceUrl };
}

describe('kiln up --host 0.0.0.0: loopback and the LAN served, the LAN address given out', () => {
  const lan = interfaceAddresses()[0];
  let kiln: KilnProcess | undefined;
  let agent: ChildProcess | undefined;
  const root = tempDir('kiln-advertise-node-');
  fs.chmodSync(root, 0o755);
  after(async () => {
    if (agent?.pid) {
      try {
        process.kill(-agent.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (kiln) await stopKiln(kiln, root);
  });

  it(
    'advertises the first network address everywhere, and each node reports the address it joined from',
    { skip: lan === undefined && 'this machine has no network address but loopback' },
    async () => {
      kiln = await startKiln({ extraArgs: ['--host', '0.0.0.0'] });
      const out = kiln.output();
      assert.match(out, new RegExp(`Listening on 0\\.0\\.0\\.0, advertised as ${lan!.replaceAll('.', '\\.')} \\(--host is 0\\.0\\.0\\.0`));
      assert.ok(out.includes(`Blob service:  http://${lan}:${kiln.blobPort}/<account>`), out);
      assert.ok(out.includes(`Batch service: http://${lan}:${kiln.batchPort}`), out);
      assert.ok(out.includes(`BlobEndpoint=http://${lan}:${kiln.blobPort}/devstoreaccount1;`), out);
      assert.ok(out.includes(`--batch-url http://${lan}:${kiln.batchPort} --pool <pool>`), out);
      assert.doesNotMatch(out, /0\.0\.0\.0:\d/, 'no URL names the wildcard address');

      // The clients of this test come over loopback (what UseDevelopmentStorage=true does): still served.
      const client = kiln.batchClient();
      await kiln.blobService().createContainer(uid('loopback'));
      const poolId = uid('local');
      const [local] = await addPool(client, poolId, 1);
      assert.equal(local!.ipAddress, '127.0.0.1', "kiln up's own agents come over loopback");
      const given = await urlsGivenToTasks(client, kiln, poolId);
      assert.equal(given.accountUrl, `http://${lan}:${kiln.batchPort}/`);
      assert.match(given.resourceUrl, new RegExp(`^http://${lan!.replaceAll('.', '\\.')}:${kiln.blobPort}/devstoreaccount1/missing-`));

      // A node that joins through the LAN address reports it, as the server saw its connection.
      await client.pool.add({ id: 'remote', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
      const token = execFileSync(process.execPath, [KILN_BIN, 'agent-token', '--pool', 'remote'], { encoding: 'utf8' }).trim();
      agent = spawn(process.execPath, [KILN_BIN, 'agent', '--batch-url', `http://${lan}:${kiln.batchPort}`, '--pool', 'remote', '--root', root], {
        detached: true,
        stdio: 'ignore',
        env: { ...process.env, KILN_AGENT_TOKEN: token },
      });
      const [remote] = await waitForNodes(client, 'remote', 1);
      assert.equal(remote!.ipAddress, lan);
    },
  );
});

describe('kiln up --advertise-host NAME', () => {
  it('gives out NAME while it listens on loopback, and refuses a wildcard as the advertised host', async () => {
    const refused = spawnSync(
      process.execPath,
      [KILN_BIN, 'up', '--advertise-host', '0.0.0.0', '--data', tempDir(), '--nodes-dir', nodesTempDir(), '--blob-port', '0', '--batch-port', '0'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /--advertise-host 0\.0\.0\.0 is no address to connect to/);

    const kiln = await startKiln({ extraArgs: ['--advertise-host', 'localhost'] });
    try {
      const out = kiln.output();
      assert.match(out, /Listening on 127\.0\.0\.1, advertised as localhost\n/);
      assert.ok(out.includes(`BlobEndpoint=http://localhost:${kiln.blobPort}/devstoreaccount1;`), out);
      const client = kiln.batchClient();
      const poolId = uid('named');
      await addPool(client, poolId, 1);
      const given = await urlsGivenToTasks(client, kiln, poolId);
      assert.equal(given.accountUrl, `http://localhost:${kiln.batchPort}/`);
      assert.match(given.resourceUrl, new RegExp(`^http://localhost:${kiln.blobPort}/devstoreaccount1/missing-`));
    } finally {
      await stopKiln(kiln);
    }
  });
});
