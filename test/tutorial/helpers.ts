import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { TutorialModule as ClientModule } from '../../examples/tutorial/tutorial_client.js';
import type { TutorialModule } from '../../src/cli/tutorial.js';
import { KILN_BIN, ROOT } from '../helpers/kiln.js';

// `kiln tutorial` loads the example client by the shape it declares; the client must have it.
export const clientFitsCli = (client: ClientModule): TutorialModule => client;

export const DATA_DIR = path.join(ROOT, 'examples/tutorial/data');
export const INPUTS = ['taskdata1.txt', 'taskdata2.txt', 'taskdata3.txt'];

export interface TutorialRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs `kiln tutorial` as a user would: the built CLI in a child process, stdin not a terminal.
 * Kills its whole process group and fails if it has not exited within `timeoutMs`.
 */
export async function runTutorialCli(args: string[], timeoutMs = 60_000): Promise<TutorialRun> {
  const child = spawn(process.execPath, [KILN_BIN, 'tutorial', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: Object.fromEntries(Object.entries(process.env).filter(([name]) => !['KILN_BATCH_URL', 'KILN_BLOB_URL', 'KILN_ACCOUNT_NAME', 'KILN_ACCOUNT_KEY'].includes(name))),
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const outcome = await Promise.race([exited, deadline]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
    await exited;
    assert.fail(`kiln tutorial did not finish within ${timeoutMs} ms:\n${output}`);
  }
  return { ...outcome, output };
}

const ASCII_PUNCTUATION_AT_ENDS = /^[!-/:-@[-`{-~]+|[!-/:-@[-`{-~]+$/g;

/**
 * The top `n` words of a text, counted here independently of the task programs, by the rule the
 * tutorial's task states: whitespace-separated, ASCII punctuation trimmed from both ends, case kept,
 * ties in order of first appearance.
 */
export function expectedTopWords(text: string, n: number): { word: string; count: number }[] {
  const counts = new Map<string, { count: number; first: number }>();
  let position = 0;
  for (const token of text.split(/[ \t\n\r\f\v]+/)) {
    const word = token.replace(ASCII_PUNCTUATION_AT_ENDS, '');
    if (word === '') continue;
    const entry = counts.get(word);
    if (entry) entry.count++;
    else counts.set(word, { count: 1, first: position++ });
  }
  return [...counts]
    .sort(([, a], [, b]) => b.count - a.count || a.first - b.first)
    .slice(0, n)
    .map(([word, { count }]) => ({ word, count }));
}

/** Checks the downloaded `<name>_OUTPUT.txt` files against the independently counted top 3 words. */
export function assertOutputs(outputDir: string, output: string): void {
  assert.deepEqual(
    fs.readdirSync(outputDir).sort(),
    INPUTS.map((f) => f.replace('.txt', '_OUTPUT.txt')),
  );
  for (const input of INPUTS) {
    const expected = expectedTopWords(fs.readFileSync(path.join(DATA_DIR, input), 'utf8'), 3);
    assert.equal(expected.length, 3);
    const name = input.replace('.txt', '_OUTPUT.txt');
    assert.equal(fs.readFileSync(path.join(outputDir, name), 'utf8'), expected.map((w) => `${w.word}: ${w.count}\n`).join(''), name);
    // The summary at the end names them too.
    assert.ok(output.includes(`  ${name}: ${expected.map((w) => `${w.word} (${w.count})`).join(', ')}\n`), `the summary of ${name}:\n${output}`);
  }
}

/** Every step of the tutorial's console story, in order (the seed's sample output, and ours). */
export function assertSteps(output: string, outputDir: string, taskProgram: string): void {
  const steps: (string | RegExp)[] = [
    /^Sample start: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m,
    `Uploading file ${path.join(ROOT, 'examples/tutorial/task', taskProgram)} to container [application]...`,
    ...INPUTS.map((f) => `Uploading file ${path.join(DATA_DIR, f)} to container [input]...`),
    'Creating pool [PythonTutorialPool]...',
    /^ {2}Image canonical\/0001-com-ubuntu-server-jammy\/22_04-lts, node agent SKU \[batch\.node\.ubuntu 22\.04\]$/m,
    'Creating job [PythonTutorialJob]...',
    'Adding 3 tasks to job [PythonTutorialJob]...',
    /^Monitoring all tasks for 'Completed' state, timeout in 0:20:00\.+$/m,
    "  Success! All tasks reached the 'Completed' state within the specified timeout period.",
    'Printing task output...',
    ...[0, 1, 2].flatMap((i) => [`Task: topNtask${i}`, /^Node: tvm-\S+$/m, 'Standard output:', /^ {2}Uploading file \S+_OUTPUT\.txt to container \[output\]\.\.\.$/m]),
    'Downloading all files from container [output]...',
    ...INPUTS.map((f) => {
      const name = f.replace('.txt', '_OUTPUT.txt');
      return `  Downloaded blob [${name}] from container [output] to ${path.join(outputDir, name)}`;
    }),
    '  Download complete!',
    'Deleting containers...',
    /^Sample end: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m,
    /^Elapsed time: 0:00:\d\d(\.\d{3})?$/m,
    /^Delete job\? \[Y\/n\] y /m,
    /^Delete pool\? \[Y\/n\] y /m,
    `The tasks' outputs are in ${outputDir}:`,
    'Deleted the containers, the job, the pool.',
  ];
  let from = 0;
  for (const step of steps) {
    let at: number;
    let length: number;
    if (typeof step === 'string') {
      at = output.indexOf(step, from);
      length = step.length;
    } else {
      const re = new RegExp(step.source, `${step.flags.replace('g', '')}g`);
      re.lastIndex = from;
      const m = re.exec(output);
      at = m ? m.index : -1;
      length = m ? m[0].length : 0;
    }
    assert.ok(at >= 0, `step ${String(step)} missing after position ${from} of the output:\n${output}`);
    from = at + length;
  }
}

/** Processes (other than this one) whose command line or working directory is under `dir`. */
export function processesUnder(dir: string): { pid: number; cmd: string }[] {
  const found: { pid: number; cmd: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // not ours to read
      }
      if (cmd.includes(dir) || cwd.startsWith(dir)) found.push({ pid: Number(name), cmd });
    } catch {
      // gone
    }
  }
  return found;
}
