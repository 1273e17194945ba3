/**
 * The client of the Azure Batch Python tutorial ("Get started with the Azure Batch Python client",
 * python_tutorial_client.py), ported to TypeScript step by step with the official SDKs,
 * @azure/storage-blob and @azure/batch, and nothing else. Against Kiln it runs unchanged but for the
 * endpoints; against Azure it would run with Azure's.
 *
 * The functions keep the original's names (in camelCase) and its console story:
 *   1. create the containers application, input and output (no error if they exist);
 *   2. upload the task program and the three data files; each becomes a resource file with a blob
 *      SAS URL (read, 2 hours);
 *   3. create the pool PythonTutorialPool (2 nodes) on the latest verified Ubuntu image, whose start
 *      task copies the task program into $AZ_BATCH_NODE_SHARED_DIR (elevated, waitForSuccess);
 *   4. create the job PythonTutorialJob on it;
 *   5. add one task per input file, with the output container's SAS (write) on its command line;
 *   6. monitor the tasks until all are completed (and print their stdout, through the task file API);
 *   7. download the output container;
 *   8. delete the containers;
 *   9. ask whether to delete the job and the pool.
 *
 * Run by `kiln tutorial` (src/cli/tutorial.ts), which also starts a Kiln for it; or directly against a
 * running one: `KILN_BATCH_URL=… KILN_BLOB_URL=… npx tsx examples/tutorial/tutorial_client.ts`.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BlobSASPermissions, BlobServiceClient, ContainerSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import { BatchServiceClient, BatchSharedKeyCredentials, type BatchServiceModels } from '@azure/batch';

// The original's constants. Its pool and job ids stay as they were, so that a reader of the Azure
// article finds them in Kiln's API and portal under the same names.
export const POOL_ID = 'PythonTutorialPool';
export const JOB_ID = 'PythonTutorialJob';
export const POOL_NODE_COUNT = 2;
export const POOL_VM_SIZE = 'STANDARD_A1';
export const NODE_OS_PUBLISHER = 'Canonical';
export const NODE_OS_OFFER = 'ubuntu'; // any Ubuntu offer: UbuntuServer, 0001-com-ubuntu-server-jammy, …
export const APP_CONTAINER = 'application';
export const INPUT_CONTAINER = 'input';
export const OUTPUT_CONTAINER = 'output';
export const TASK_TIMEOUT_MS = 20 * 60 * 1000;
/**
 * The original polls the task list once a second, which is nothing next to the minutes an Azure VM
 * takes to boot. Kiln's nodes start in a fraction of a second and the whole flow takes about as
 * long as one such pause, so this polls every 100 ms: a handful of cheap list calls that end the wait
 * as soon as the last task completes instead of up to a second later.
 */
export const POLL_INTERVAL_MS = 100;

export type TaskLanguage = 'node' | 'python';

/** The task program each language runs, as the start task leaves it in the shared directory. */
const TASK_PROGRAMS: Record<TaskLanguage, { file: string; interpreter: string }> = {
  node: { file: 'tutorial_task.mjs', interpreter: 'node' },
  python: { file: 'python_tutorial_task.py', interpreter: 'python3' },
};

export interface TutorialOptions {
  batchAccountName: string;
  batchAccountKey: string;
  /** The Batch account URL, e.g. http://127.0.0.1:10100. */
  batchAccountUrl: string;
  storageAccountName: string;
  storageAccountKey: string;
  /** The storage account's blob service URL, e.g. http://127.0.0.1:10000/devstoreaccount1. */
  blobEndpoint: string;
  /** Which task program the nodes run: the JavaScript one (default) or the Python one. */
  taskLanguage?: TaskLanguage;
  /** Where the output container is downloaded to (the original: the home directory). */
  outputDir: string;
  /** Answer yes to "Delete job?" and "Delete pool?" without asking. */
  yes?: boolean;
  /** Whether stdin is a terminal one can ask; when it is not, the questions take their default (yes). */
  interactive?: boolean;
  /** Where the console story goes; process.stdout by default. */
  output?: { write(text: string): unknown };
  /** The directory holding task/ and data/; found next to this file by default. */
  tutorialDir?: string;
}

export interface TaskOutput {
  taskId: string;
  nodeId?: string;
  result?: string;
  exitCode?: number;
  stdout: string;
}

export interface DownloadedOutput {
  blobName: string;
  path: string;
  /** The file's lines, `word: count`. */
  topWords: { word: string; count: number }[];
}

export interface TutorialResult {
  /** Every task completed with success and every output file was downloaded. */
  ok: boolean;
  elapsedMs: number;
  outputDir: string;
  outputs: DownloadedOutput[];
  tasks: TaskOutput[];
  containersDeleted: boolean;
  jobDeleted: boolean;
  poolDeleted: boolean;
}

/** What a caller needs of this module; src/cli/tutorial.ts loads it by this shape. */
export interface TutorialModule {
  runTutorial(options: TutorialOptions): Promise<TutorialResult>;
}

/** Where task/ and data/ are: next to this file, or (compiled into dist/examples/tutorial/) in the source tree. */
export function defaultTutorialDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [here, path.resolve(here, '../../../examples/tutorial')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'data', 'taskdata1.txt')));
  if (!found) throw new Error(`the tutorial's data files are in none of ${candidates.join(', ')}`);
  return found;
}

type Print = (line: string) => void;
// Pieces of a line (the monitoring dots), as the original's print(…, end='').
type PrintPart = (text: string) => void;

/** A prompt on the terminal; Ctrl+C at it interrupts the program, as anywhere else. */
function askingInterface(): readline.Interface {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  rl.on('SIGINT', () => {
    rl.close();
    process.kill(process.pid, 'SIGINT');
  });
  return rl;
}

/**
 * Prompts the user for a yes/no answer; the original's query_yes_no. Without a terminal to ask (or
 * with --yes) it takes the default, and says so.
 */
export async function queryYesNo(question: string, opts: { yes?: boolean; interactive?: boolean; print: Print }, defaultAnswer: 'yes' | 'no' = 'yes'): Promise<'yes' | 'no'> {
  const prompt = `${question} ${defaultAnswer === 'yes' ? '[Y/n]' : '[y/N]'} `;
  if (opts.yes || !opts.interactive) {
    const answer = opts.yes ? 'yes' : defaultAnswer;
    opts.print(`${prompt}${answer === 'yes' ? 'y' : 'n'} (${opts.yes ? '--yes' : 'stdin is not a terminal: the default'})`);
    return answer;
  }
  const rl = askingInterface();
  try {
    for (;;) {
      const choice = (await rl.question(prompt)).trim().toLowerCase();
      if (choice === '') return defaultAnswer;
      if (['y', 'ye', 'yes'].includes(choice)) return 'yes';
      if (['n', 'no'].includes(choice)) return 'no';
      opts.print("Please respond with 'yes' or 'no' (or 'y' or 'n').");
    }
  } finally {
    rl.close();
  }
}

/** Prints the contents of a Batch error, as the original's print_batch_exception. */
export function printBatchException(err: unknown, print: Print): void {
  print('-------------------------------------------');
  print('Exception encountered:');
  const body = (err as { body?: { code?: string; message?: { value?: string } | string; values?: { key?: string; value?: string }[] } }).body;
  const message = typeof body?.message === 'string' ? body.message : body?.message?.value;
  if (message) {
    print(body?.code ? `${body.code}: ${message}` : message);
    if (body?.values?.length) {
      print('');
      for (const m of body.values) print(`${m.key}:\t${m.value}`);
    }
  } else {
    print(err instanceof Error ? err.message : String(err));
  }
  print('-------------------------------------------');
}

/**
 * Wraps commands in a shell, as the original's common.helpers.wrap_commands_in_shell: a command line
 * is not run through a shell on a node, so variables like $AZ_BATCH_NODE_SHARED_DIR need one.
 */
export function wrapCommandsInShell(commands: string[]): string {
  return `/bin/bash -c 'set -e; set -o pipefail; ${commands.join('; ')}; wait'`;
}

/**
 * Uploads a local file to a blob container and returns a ResourceFile for it: the blob's URL with a
 * SAS granting read access for two hours. The original's upload_file_to_container.
 */
export async function uploadFileToContainer(blobClient: BlobServiceClient, containerName: string, filePath: string, print: Print): Promise<BatchServiceModels.ResourceFile> {
  const blobName = path.basename(filePath);
  print(`Uploading file ${filePath} to container [${containerName}]...`);
  const blob = blobClient.getContainerClient(containerName).getBlockBlobClient(blobName);
  await blob.uploadFile(filePath);
  const sasUrl = await blob.generateSasUrl({
    permissions: BlobSASPermissions.parse('r'),
    expiresOn: new Date(Date.now() + 2 * 60 * 60 * 1000),
  });
  // `httpUrl` is what the 2016 API called `blobSource`.
  return { filePath: blobName, httpUrl: sasUrl };
}

/**
 * A SAS token (the query string, no leading '?') for a whole container; the original's
 * get_container_sas_token.
 */
export function getContainerSasToken(credential: StorageSharedKeyCredential, containerName: string, permissions: string): string {
  return generateBlobSASQueryParameters(
    { containerName, permissions: ContainerSASPermissions.parse(permissions), expiresOn: new Date(Date.now() + 2 * 60 * 60 * 1000) },
    credential,
  ).toString();
}

/** Every supported image, all pages of the list. */
async function listSupportedImages(batchClient: BatchServiceClient): Promise<BatchServiceModels.ImageInformation[]> {
  const images: BatchServiceModels.ImageInformation[] = [];
  let page = await batchClient.account.listSupportedImages();
  images.push(...page);
  while (page.odatanextLink) {
    page = await batchClient.account.listSupportedImagesNext(page.odatanextLink);
    images.push(...page);
  }
  return images;
}

const skuVersion = (sku: string): number[] => (sku.match(/\d+/g) ?? []).map(Number);
const compareVersions = (a: number[], b: number[]): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
};

/**
 * Picks the latest verified image of a publisher and offer from the service's list of supported
 * images, with the node agent SKU that goes with it; the original's
 * common.helpers.select_latest_verified_vm_image_with_node_agent_sku. (The 2016 API listed node
 * agent SKUs; today's lists supported images.)
 */
export async function selectLatestVerifiedVmImageWithNodeAgentSku(
  batchClient: BatchServiceClient,
  publisher: string,
  offer: string,
): Promise<{ nodeAgentSkuId: string; imageReference: BatchServiceModels.ImageReference }> {
  const candidates = (await listSupportedImages(batchClient)).filter(
    (image) =>
      image.verificationType === 'verified' &&
      image.osType === 'linux' &&
      image.imageReference.publisher?.toLowerCase() === publisher.toLowerCase() &&
      (image.imageReference.offer ?? '').toLowerCase().includes(offer.toLowerCase()),
  );
  candidates.sort((a, b) => compareVersions(skuVersion(a.imageReference.sku ?? ''), skuVersion(b.imageReference.sku ?? '')));
  const latest = candidates.at(-1);
  if (!latest) throw new Error(`no verified ${publisher} ${offer} image is supported`);
  return { nodeAgentSkuId: latest.nodeAgentSKUId, imageReference: latest.imageReference };
}

/**
 * Creates a pool of compute nodes whose start task copies the task program into the node's shared
 * directory; the original's create_pool.
 */
export async function createPool(
  batchClient: BatchServiceClient,
  poolId: string,
  resourceFiles: BatchServiceModels.ResourceFile[],
  publisher: string,
  offer: string,
  print: Print,
): Promise<void> {
  print(`Creating pool [${poolId}]...`);

  // The start task runs on each node as it joins the pool (and when it is rebooted or reimaged).
  // The original also ran apt-get and pip there, to install the azure-storage package its task
  // needed; this task program needs nothing but its interpreter, so copying it is all there is.
  const taskCommands = [
    // Copy the task program to the "shared" directory that every task on the node can read.
    'cp -r $AZ_BATCH_TASK_WORKING_DIR/* $AZ_BATCH_NODE_SHARED_DIR',
  ];

  const { nodeAgentSkuId, imageReference } = await selectLatestVerifiedVmImageWithNodeAgentSku(batchClient, publisher, offer);
  print(`  Image ${imageReference.publisher}/${imageReference.offer}/${imageReference.sku}, node agent SKU [${nodeAgentSkuId}]`);

  const newPool: BatchServiceModels.PoolAddParameter = {
    id: poolId,
    virtualMachineConfiguration: { imageReference, nodeAgentSKUId: nodeAgentSkuId },
    vmSize: POOL_VM_SIZE,
    targetDedicatedNodes: POOL_NODE_COUNT,
    startTask: {
      commandLine: wrapCommandsInShell(taskCommands),
      // The 2016 API's run_elevated=True: the pool's admin auto-user.
      userIdentity: { autoUser: { scope: 'pool', elevationLevel: 'admin' } },
      waitForSuccess: true,
      resourceFiles,
    },
  };

  try {
    await batchClient.pool.add(newPool);
  } catch (err) {
    printBatchException(err, print);
    throw err;
  }
}

/** Creates a job bound to the pool; the original's create_job. */
export async function createJob(batchClient: BatchServiceClient, jobId: string, poolId: string, print: Print): Promise<void> {
  print(`Creating job [${jobId}]...`);
  try {
    await batchClient.job.add({ id: jobId, poolInfo: { poolId } });
  } catch (err) {
    printBatchException(err, print);
    throw err;
  }
}

/**
 * Adds one task per input file to the job; each counts the top 3 words of its file and uploads them
 * to the output container with the container's SAS. The original's add_tasks.
 */
export async function addTasks(
  batchClient: BatchServiceClient,
  jobId: string,
  inputFiles: BatchServiceModels.ResourceFile[],
  outputContainerName: string,
  outputContainerSasToken: string,
  storageAccountName: string,
  blobEndpoint: string,
  language: TaskLanguage,
  print: Print,
): Promise<void> {
  print(`Adding ${inputFiles.length} tasks to job [${jobId}]...`);
  const program = TASK_PROGRAMS[language];
  const tasks: BatchServiceModels.TaskAddParameter[] = inputFiles.map((inputFile, index) => {
    const command =
      `${program.interpreter} $AZ_BATCH_NODE_SHARED_DIR/${program.file} ` +
      `--filepath ${inputFile.filePath} --numwords 3 --storageaccount ${storageAccountName} ` +
      `--storagecontainer ${outputContainerName} --sastoken "${outputContainerSasToken}" ` +
      // The original's task could only reach <account>.blob.core.windows.net; this one is told where.
      `--blobendpoint ${blobEndpoint}`;
    return { id: `topNtask${index}`, commandLine: wrapCommandsInShell([command]), resourceFiles: [inputFile] };
  });
  // One call adds up to 100 tasks (the original's task.add_collection).
  const result = await batchClient.task.addCollection(jobId, tasks);
  const failed = (result.value ?? []).filter((r) => r.status !== 'success');
  if (failed.length > 0) throw new Error(`tasks not added: ${failed.map((r) => `${r.taskId} (${r.error?.code ?? r.status})`).join(', ')}`);
}

/** Every task of the job, all pages of the list. */
async function listTasks(batchClient: BatchServiceClient, jobId: string): Promise<BatchServiceModels.CloudTask[]> {
  const tasks: BatchServiceModels.CloudTask[] = [];
  let page = await batchClient.task.list(jobId);
  tasks.push(...page);
  while (page.odatanextLink) {
    page = await batchClient.task.listNext(page.odatanextLink);
    tasks.push(...page);
  }
  return tasks;
}

/** `0:20:00`: a duration as Python prints a timedelta (with milliseconds when there are any). */
export function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const rest = Math.round(ms % 1000);
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}${rest ? `.${String(rest).padStart(3, '0')}` : ''}`;
}

/**
 * Returns when every task of the job is completed, or throws when `timeoutMs` passes first; the
 * original's wait_for_tasks_to_complete.
 */
export async function waitForTasksToComplete(
  batchClient: BatchServiceClient,
  jobId: string,
  timeoutMs: number,
  print: Print,
  printPart: PrintPart,
): Promise<BatchServiceModels.CloudTask[]> {
  const timeoutExpiration = Date.now() + timeoutMs;
  printPart(`Monitoring all tasks for 'Completed' state, timeout in ${formatDuration(timeoutMs)}...`);
  while (Date.now() < timeoutExpiration) {
    printPart('.');
    const tasks = await listTasks(batchClient, jobId);
    const incompleteTasks = tasks.filter((task) => task.state !== 'completed');
    if (incompleteTasks.length === 0) {
      print('');
      return tasks;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
  print('');
  throw new Error(`ERROR: Tasks did not reach 'Completed' state within timeout period of ${formatDuration(timeoutMs)}`);
}

async function readStream(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Prints each task's stdout.txt (and stderr.txt when it failed), read from its node through the task
 * file API; the later versions of the sample's print_task_output.
 */
export async function printTaskOutput(batchClient: BatchServiceClient, jobId: string, tasks: BatchServiceModels.CloudTask[], print: Print): Promise<TaskOutput[]> {
  print('Printing task output...');
  const outputs: TaskOutput[] = [];
  for (const task of tasks) {
    const taskId = task.id!;
    const nodeId = task.nodeInfo?.nodeId;
    print(`Task: ${taskId}`);
    print(`Node: ${nodeId ?? '(none)'}`);
    const stdout = await readStream((await batchClient.file.getFromTask(jobId, taskId, 'stdout.txt')).readableStreamBody);
    print('Standard output:');
    for (const line of stdout.replace(/\n$/, '').split('\n')) print(`  ${line}`);
    const result = task.executionInfo?.result;
    if (result !== 'success') {
      print(
        `Result: ${result ?? 'none'}, exit code ${task.executionInfo?.exitCode ?? '-'}${task.executionInfo?.failureInfo ? `, ${task.executionInfo.failureInfo.code}: ${task.executionInfo.failureInfo.message}` : ''}`,
      );
      try {
        const stderr = await readStream((await batchClient.file.getFromTask(jobId, taskId, 'stderr.txt')).readableStreamBody);
        print('Standard error:');
        for (const line of stderr.replace(/\n$/, '').split('\n')) print(`  ${line}`);
      } catch {
        // A task that never started has no stderr.txt.
      }
    }
    outputs.push({ taskId, nodeId, result, exitCode: task.executionInfo?.exitCode, stdout });
  }
  return outputs;
}

/** Downloads every blob of a container into a local directory; the original's download_blobs_from_container. */
export async function downloadBlobsFromContainer(blobClient: BlobServiceClient, containerName: string, directoryPath: string, print: Print): Promise<DownloadedOutput[]> {
  print(`Downloading all files from container [${containerName}]...`);
  fs.mkdirSync(directoryPath, { recursive: true });
  const container = blobClient.getContainerClient(containerName);
  const downloaded: DownloadedOutput[] = [];
  for await (const blob of container.listBlobsFlat()) {
    const destinationFilePath = path.join(directoryPath, blob.name);
    await container.getBlobClient(blob.name).downloadToFile(destinationFilePath);
    print(`  Downloaded blob [${blob.name}] from container [${containerName}] to ${destinationFilePath}`);
    const topWords = fs
      .readFileSync(destinationFilePath, 'utf8')
      .split('\n')
      .map((line) => /^(.*): (\d+)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ word: m[1]!, count: Number(m[2]) }));
    downloaded.push({ blobName: blob.name, path: destinationFilePath, topWords });
  }
  print('  Download complete!');
  return downloaded;
}

/** `2016-05-20 22:47:10`, local time, as the original prints datetime.now() without microseconds. */
function formatTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/** The original's `if __name__ == '__main__':` block: the whole flow, steps 1 to 9. */
export async function runTutorial(options: TutorialOptions): Promise<TutorialResult> {
  const output = options.output ?? process.stdout;
  const printPart: PrintPart = (text) => void output.write(text);
  const print: Print = (line) => printPart(`${line}\n`);
  const language = options.taskLanguage ?? 'node';
  const tutorialDir = options.tutorialDir ?? defaultTutorialDir();

  const startTime = new Date();
  print(`Sample start: ${formatTime(startTime)}`);
  print('');

  // Create the blob client, for use in obtaining references to blob storage containers and
  // uploading files to containers.
  const storageCredential = new StorageSharedKeyCredential(options.storageAccountName, options.storageAccountKey);
  const blobClient = new BlobServiceClient(options.blobEndpoint, storageCredential);

  // Step 1. Use the blob client to create the containers in storage if they don't yet exist.
  const appContainerName = APP_CONTAINER;
  const inputContainerName = INPUT_CONTAINER;
  const outputContainerName = OUTPUT_CONTAINER;
  await blobClient.getContainerClient(appContainerName).createIfNotExists();
  await blobClient.getContainerClient(inputContainerName).createIfNotExists();
  await blobClient.getContainerClient(outputContainerName).createIfNotExists();

  // Step 2. The task program, executed by the tasks on the compute nodes, and the data files it
  // processes, one per task.
  const applicationFilePaths = [path.join(tutorialDir, 'task', TASK_PROGRAMS[language].file)];
  const inputFilePaths = ['taskdata1.txt', 'taskdata2.txt', 'taskdata3.txt'].map((name) => path.join(tutorialDir, 'data', name));

  // Upload the task program to storage; the pool's start task downloads it onto every node.
  const applicationFiles: BatchServiceModels.ResourceFile[] = [];
  for (const filePath of applicationFilePaths) applicationFiles.push(await uploadFileToContainer(blobClient, appContainerName, filePath, print));

  // Upload the data files; each task downloads the one it processes.
  const inputFiles: BatchServiceModels.ResourceFile[] = [];
  for (const filePath of inputFilePaths) inputFiles.push(await uploadFileToContainer(blobClient, inputContainerName, filePath, print));

  // Obtain a shared access signature that grants write access to the output container to the
  // tasks: they upload their results with it, and with nothing else.
  const outputContainerSasToken = getContainerSasToken(storageCredential, outputContainerName, 'w');

  // Create a Batch service client. We'll now be interacting with the Batch service in addition to
  // storage.
  const credentials = new BatchSharedKeyCredentials(options.batchAccountName, options.batchAccountKey);
  const batchClient = new BatchServiceClient(credentials, options.batchAccountUrl);

  // Step 3. Create the pool that will contain the compute nodes that will execute the tasks. The
  // resource files of its start task are the application files uploaded above.
  await createPool(batchClient, POOL_ID, applicationFiles, NODE_OS_PUBLISHER, NODE_OS_OFFER, print);

  // Step 4. Create the job that will run the tasks.
  await createJob(batchClient, JOB_ID, POOL_ID, print);

  // Step 5. Add the tasks to the job, passing the input files and a SAS token for the output container.
  await addTasks(batchClient, JOB_ID, inputFiles, outputContainerName, outputContainerSasToken, options.storageAccountName, options.blobEndpoint, language, print);

  // Step 6. Pause execution until the tasks reach the Completed state.
  const tasks = await waitForTasksToComplete(batchClient, JOB_ID, TASK_TIMEOUT_MS, print, printPart);
  print("  Success! All tasks reached the 'Completed' state within the specified timeout period.");
  const taskOutputs = await printTaskOutput(batchClient, JOB_ID, tasks, print);

  // Step 7. Download the task output files from the output container to a local directory.
  const outputs = await downloadBlobsFromContainer(blobClient, outputContainerName, options.outputDir, print);

  // Step 8. Clean up storage resources.
  print('Deleting containers...');
  await blobClient.getContainerClient(appContainerName).delete();
  await blobClient.getContainerClient(inputContainerName).delete();
  await blobClient.getContainerClient(outputContainerName).delete();

  // Print out some timing info.
  const endTime = new Date();
  print('');
  print(`Sample end: ${formatTime(endTime)}`);
  print(`Elapsed time: ${formatDuration(endTime.getTime() - startTime.getTime())}`);
  print('');

  // Step 9. Clean up Batch resources (if the user so chooses).
  const ask = { yes: options.yes, interactive: options.interactive, print };
  let jobDeleted = false;
  let poolDeleted = false;
  if ((await queryYesNo('Delete job?', ask)) === 'yes') {
    await batchClient.job.deleteMethod(JOB_ID);
    jobDeleted = true;
  }
  if ((await queryYesNo('Delete pool?', ask)) === 'yes') {
    await batchClient.pool.deleteMethod(POOL_ID);
    poolDeleted = true;
  }

  if (options.interactive && !options.yes) {
    print('');
    const rl = askingInterface();
    await rl.question('Press ENTER to exit...');
    rl.close();
  }

  const ok = taskOutputs.every((t) => t.result === 'success') && outputs.length === inputFiles.length;
  return {
    ok,
    elapsedMs: endTime.getTime() - startTime.getTime(),
    outputDir: options.outputDir,
    outputs,
    tasks: taskOutputs,
    containersDeleted: true,
    jobDeleted,
    poolDeleted,
  };
}

// Run directly (node dist/examples/tutorial/tutorial_client.js, or tsx on this file) against a running
// Kiln: the original kept its account names, keys and URLs at the top of the file; here they come from
// the environment, with Kiln's defaults.
function runDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(fs.realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (runDirectly()) {
  const env = process.env;
  const name = env.KILN_ACCOUNT_NAME ?? 'devstoreaccount1';
  const key = env.KILN_ACCOUNT_KEY ?? 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
  runTutorial({
    batchAccountName: name,
    batchAccountKey: key,
    batchAccountUrl: env.KILN_BATCH_URL ?? 'http://127.0.0.1:10100',
    storageAccountName: name,
    storageAccountKey: key,
    blobEndpoint: env.KILN_BLOB_URL ?? `http://127.0.0.1:10000/${name}`,
    taskLanguage: env.KILN_TASK_LANGUAGE === 'python' ? 'python' : 'node',
    outputDir: path.resolve('tutorial-output'),
    interactive: process.stdin.isTTY === true,
  }).then(
    (result) => process.exit(result.ok ? 0 : 1),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
