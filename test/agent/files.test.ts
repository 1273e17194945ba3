import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobSASPermissions, ContainerSASPermissions, type ContainerClient } from '@azure/storage-blob';
import { NodeLayout } from '../../src/agent/layout.js';
import { uploadOutputFiles } from '../../src/agent/outputFiles.js';
import { downloadResourceFile } from '../../src/agent/resourceFiles.js';
import { startKiln, tempDir, type KilnProcess } from '../helpers/kiln.js';

const hour = () => new Date(Date.now() + 3600_000);

describe('resource files in, output files out, through a real Blob service', () => {
  let kiln: KilnProcess;
  let inputs: ContainerClient;
  let outputs: ContainerClient;
  const root = tempDir('kiln-node-');
  const layout = new NodeLayout(root);

  before(async () => {
    kiln = await startKiln();
    inputs = kiln.blobService().getContainerClient('inputs');
    outputs = kiln.blobService().getContainerClient('outputs');
    await inputs.create();
    await outputs.create();
    for (const name of ['script.sh', 'data/a.txt', 'data/sub/b.txt', 'other/c.txt']) {
      await inputs.getBlockBlobClient(name).upload(`content of ${name}`, `content of ${name}`.length);
    }
    layout.prepare();
  });
  after(async () => {
    await kiln.stop();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(kiln.dataDir, { recursive: true, force: true });
  });

  it('downloads a blob by SAS URL into the working directory, with its file mode', async () => {
    const dirs = layout.startTask();
    const url = await inputs.getBlobClient('script.sh').generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: hour() });
    await downloadResourceFile({ httpUrl: url, filePath: 'bin/run.sh', fileMode: '0750' }, dirs.workingDir);
    const file = path.join(dirs.workingDir, 'bin/run.sh');
    assert.equal(fs.readFileSync(file, 'utf8'), 'content of script.sh');
    assert.equal(fs.statSync(file).mode & 0o777, 0o750);
    await downloadResourceFile({ httpUrl: url }, dirs.workingDir);
    assert.ok(fs.existsSync(path.join(dirs.workingDir, 'script.sh')), 'without filePath the name comes from the URL');
  });

  it('downloads a container by prefix, keeping blob paths', async () => {
    const dirs = layout.task('job1', 'task1');
    const url = await inputs.generateSasUrl({ permissions: ContainerSASPermissions.parse('rl'), expiresOn: hour() });
    await downloadResourceFile({ storageContainerUrl: url, blobPrefix: 'data/', filePath: 'in' }, dirs.workingDir);
    assert.equal(fs.readFileSync(path.join(dirs.workingDir, 'in/data/sub/b.txt'), 'utf8'), 'content of data/sub/b.txt');
    assert.ok(!fs.existsSync(path.join(dirs.workingDir, 'in/other')), 'the prefix filters');
  });

  it('refuses a file path that leaves the working directory, and reports HTTP failures', async () => {
    const dirs = layout.task('job1', 'task2');
    const url = await inputs.getBlobClient('script.sh').generateSasUrl({ permissions: BlobSASPermissions.parse('r'), expiresOn: hour() });
    await assert.rejects(downloadResourceFile({ httpUrl: url, filePath: '../../../../escape.sh' }, dirs.workingDir), /leaves its directory/);
    await assert.rejects(downloadResourceFile({ httpUrl: `${kiln.blobUrl}/inputs/script.sh` }, dirs.workingDir), /answered 404/);
  });

  it('uploads output files by pattern, honouring the upload condition', async () => {
    const dirs = layout.task('job1', 'task3');
    fs.mkdirSync(path.join(dirs.workingDir, 'results/deep'), { recursive: true });
    fs.writeFileSync(path.join(dirs.workingDir, 'results/one.txt'), '1');
    fs.writeFileSync(path.join(dirs.workingDir, 'results/deep/two.txt'), '2');
    fs.writeFileSync(path.join(dirs.workingDir, 'results/skip.bin'), 'x');
    fs.writeFileSync(dirs.stdoutFile, 'out');
    fs.writeFileSync(dirs.stderrFile, '');
    const containerUrl = await outputs.generateSasUrl({ permissions: ContainerSASPermissions.parse('w'), expiresOn: hour() });
    const failures = await uploadOutputFiles(
      [
        { filePattern: 'results/**/*.txt', destination: { container: { containerUrl, path: 'task3' } }, uploadOptions: { uploadCondition: 'taskcompletion' } },
        { filePattern: '../std*.txt', destination: { container: { containerUrl, path: 'logs' } }, uploadOptions: { uploadCondition: 'tasksuccess' } },
        { filePattern: 'results/one.txt', destination: { container: { containerUrl, path: 'renamed.txt' } }, uploadOptions: { uploadCondition: 'taskcompletion' } },
        { filePattern: 'results/skip.bin', destination: { container: { containerUrl } }, uploadOptions: { uploadCondition: 'taskfailure' } },
      ],
      dirs,
      true,
    );
    assert.deepEqual(failures, []);
    const names: string[] = [];
    for await (const blob of outputs.listBlobsFlat()) names.push(blob.name);
    assert.deepEqual(names, ['logs/stderr.txt', 'logs/stdout.txt', 'renamed.txt', 'task3/deep/two.txt', 'task3/one.txt']);
    assert.equal((await outputs.getBlobClient('task3/deep/two.txt').downloadToBuffer()).toString(), '2');
  });

  it('reports, per pattern, uploads that fail and files outside the task directory', async () => {
    const dirs = layout.task('job1', 'task4');
    fs.mkdirSync(dirs.workingDir, { recursive: true });
    fs.writeFileSync(path.join(dirs.workingDir, 'r.txt'), 'r');
    const readOnly = await outputs.generateSasUrl({ permissions: ContainerSASPermissions.parse('r'), expiresOn: hour() });
    const writable = await outputs.generateSasUrl({ permissions: ContainerSASPermissions.parse('w'), expiresOn: hour() });
    const failures = await uploadOutputFiles(
      [
        { filePattern: 'r.txt', destination: { container: { containerUrl: readOnly } }, uploadOptions: { uploadCondition: 'taskcompletion' } },
        { filePattern: '../../task3/wd/results/one.txt', destination: { container: { containerUrl: writable } }, uploadOptions: { uploadCondition: 'taskcompletion' } },
      ],
      dirs,
      false,
    );
    assert.equal(failures.length, 2);
    assert.match(failures[0]!.message, /403 AuthorizationPermissionMismatch/);
    assert.ok(!failures[0]!.message.includes('sig='), 'no SAS in messages');
    assert.match(failures[1]!.message, /leaves its directory/);
  });
});
