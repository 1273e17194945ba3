import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { ACCOUNT, KEY, ROOT, startKiln, tempDir, type KilnProcess } from '../helpers/kiln.js';

const run = promisify(execFile);
// Debian's system Python carries the Azure SDKs (python3-azure-storage, python3-azure-multiapi-storage).
const PYTHON = '/usr/bin/python3';
const script = (name: string) => path.join(ROOT, 'test/blob/python', name);

describe('Python clients, unchanged, against Kiln', () => {
  let kiln: KilnProcess;
  const work = tempDir('kiln-python-');
  let env: NodeJS.ProcessEnv;
  before(async () => {
    kiln = await startKiln();
    env = { ...process.env, KILN_ACCOUNT: ACCOUNT, KILN_KEY: KEY, KILN_BLOB_URL: kiln.blobUrl, WORK_DIR: work };
  });
  after(async () => {
    await kiln.stop();
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(kiln.dataDir, { recursive: true, force: true });
  });

  it('azure-storage-blob v12: uploads, blocks, listing, SAS, conditional create', async () => {
    const { stdout } = await run(PYTHON, [script('v12.py')], { env });
    assert.match(stdout, /refused: BlobAlreadyExists/);
    assert.match(stdout, /read: hello from python/);
    assert.match(stdout, /metadata: \[\('a1', '2'\), \('a_c', '1'\), \('ab', '3'\)\]/);
    assert.match(stdout, /empty: 0/);
    assert.match(stdout, /big equal: True/);
    assert.match(stdout, /walk: \['big', 'dir\/', 'empty'\]/);
    assert.match(stdout, /blob sas read: hello from python/);
    assert.match(stdout, /container sas list: 4/);
    assert.match(stdout, /done/);
  });

  for (const version of ['v2015_04_05', 'v2017_04_17', 'v2017_11_09', 'v2018_11_09']) {
    it(`the tutorial's legacy BlockBlobService, API ${version}`, async () => {
      const { stdout } = await run(PYTHON, [script('legacy.py'), version], { env });
      assert.match(stdout, /create: True False/);
      assert.match(stdout, /blob sas read: 1200/);
      assert.match(stdout, /list: \['dir\/', 'output\/'\]/);
      assert.match(stdout, /download: written with container sas/);
      assert.match(stdout, /download size: 1200/);
      assert.match(stdout, /delete: True/);
    });
  }
});
