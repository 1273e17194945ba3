import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BatchSharedKeyCredentials } from '@azure/batch';
import { WebResource } from '@azure/ms-rest-js';
import fc from 'fast-check';
import { API_VERSION } from '../helpers/batchHttp.js';
import { blobSharedKeySignature } from '../helpers/sharedKeyFetch.js';
import { ACCOUNT, KEY, KILN_BIN, startKiln, tempDir, type KilnProcess } from '../helpers/kiln.js';
import { stopKiln, vm, waitForNodes, waitForTask } from '../nodes/helpers.js';

/**
 * Random requests at the Blob, Batch and agent endpoints of a real `kiln up`: methods, paths, query
 * parameters, headers and bodies, a share of them signed (Shared Key with the dev key, or an agent
 * token) so that they get past authentication into the handlers. Whatever a request says, the
 * server answers it in time with a status below 500, lives on, and writes nowhere but its own
 * directories. KILN_FUZZ_RUNS and KILN_FUZZ_SEED reproduce or lengthen a run.
 */
const RUNS = Number(process.env.KILN_FUZZ_RUNS ?? 8000);
const SEED = Number(process.env.KILN_FUZZ_SEED ?? Date.now() % 2 ** 31);
const DEADLINE_MS = 5000;
const POOL = 'fuzzpool';
const JOB = 'fuzzjob';
const AGENT_PREFIX = '/kiln-agent/v1';

type Target = 'blob' | 'batch' | 'agent';
type Auth = 'none' | 'signed' | 'junk';
interface FuzzRequest {
  target: Target;
  method: string;
  path: string;
  query: [string, string][];
  headers: [string, string][];
  body: Buffer | undefined;
  auth: Auth;
}

// ---- arbitraries: each picks mostly from what the services understand, and mixes in the hostile

const hostile = fc.constantFrom(
  '',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udc00x',
  '../../outside/pwned',
  '..%2F..%2Foutside%2Fpwned',
  '%2e%2e',
  '.',
  '..',
  '__proto__',
  'constructor',
  'toString',
  'x'.repeat(70_000),
  '-1',
  '2147483648',
  '1e309',
  'NaN',
  "'",
  '((((((((((',
);
const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 2, arbitrary: hostile },
);
/** Percent-encoding of any string, unpaired surrogates included (encodeURIComponent throws on those). */
const encode = (s: string): string => {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
  }
};
const segment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(POOL, JOB, 'fuzz', 't0', 'stdout.txt', 'wd', 'wd%2Ff', 'blob.txt', 'files', 'tasks') },
  { weight: 2, arbitrary: fc.constantFrom('%00', '%ED%A0%80', '%ZZ', '%2e%2e%2F%2e%2e%2Foutside', '..%2F..%2F..%2Foutside%2Fmarker', '.', '%2e') },
  { weight: 2, arbitrary: text.map(encode) },
  { weight: 1, arbitrary: hostile },
);

const KEYS = [
  'id',
  'commandLine',
  'environmentSettings',
  'name',
  'value',
  'dependsOn',
  'taskIds',
  'taskIdRanges',
  'start',
  'end',
  'constraints',
  'maxWallClockTime',
  'retentionTime',
  'maxTaskRetryCount',
  'resourceFiles',
  'httpUrl',
  'filePath',
  'fileMode',
  'outputFiles',
  'destination',
  'container',
  'containerUrl',
  'path',
  'uploadOptions',
  'filePattern',
  'metadata',
  'poolInfo',
  'poolId',
  'userIdentity',
  'autoUser',
  'elevationLevel',
  'scope',
  'username',
  'exitConditions',
  'exitCodes',
  'code',
  'exitOptions',
  'jobAction',
  'dependencyAction',
  'requiredSlots',
  'multiInstanceSettings',
  'numberOfInstances',
  'priority',
  'onAllTasksComplete',
  'onTaskFailure',
  'usesTaskDependencies',
  'reports',
  'runId',
  'state',
  'exitCode',
  'hostname',
  'isDedicated',
  'canSeparateUsers',
  'nodeToken',
  'runs',
  'kind',
  'attempt',
  'result',
  'failureInfo',
  'startTime',
  'endTime',
  'value',
  'nodeList',
  'schedule',
  'jobSpecification',
  'displayName',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
];
// Numbers stay small or far out of range: a fuzzer must not resize a pool to hundreds of real nodes.
const number = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1e20, 0.5, -0, 1e308));
const json: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    number,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 5 }),
  ),
})).value;
const rawBody = fc.oneof(
  json.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  fc
    .constantFrom(
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
      `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
      '{"id":"t1","commandLine":"echo \\u0000"}',
      '{"__proto__":{"admin":true},"id":"p","commandLine":"x"}',
      '<?xml version="1.0"?><BlockList><Latest>AAAA</Latest></BlockList>',
      '<SignedIdentifiers><SignedIdentifier><Id>x</Id></SignedIdentifier></SignedIdentifiers>',
      '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><BlockList><Latest>&b;</Latest></BlockList>',
      '{"id":',
    )
    .map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
);

/** Task bodies valid but for what the fuzzer varies: they reach the checks past the schema, and some run. */
const COMMANDS = ['/bin/true', 'echo hi', "/bin/sh -c 'echo $X > out.txt'", 'a\u0000b', '\ud800', 'x'.repeat(70_000), ''];
const taskBody = fc
  .record(
    {
      id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,8}$/), text),
      commandLine: fc.oneof(
        fc.constantFrom(...COMMANDS),
        text.map((t) => `echo '${t.replace(/'/g, '')}'`),
      ),
      environmentSettings: fc.array(fc.record({ name: text, value: text }), { maxLength: 3 }),
      dependsOn: fc.record({ taskIds: fc.array(text, { maxLength: 3 }), taskIdRanges: fc.array(fc.record({ start: number, end: number }), { maxLength: 2 }) }),
      resourceFiles: fc.array(fc.record({ httpUrl: fc.constantFrom('http://127.0.0.1:1/x', 'file:///etc/shadow', ''), filePath: fc.oneof(text, hostile) }), { maxLength: 2 }),
      outputFiles: fc.array(
        fc.record({
          filePattern: fc.oneof(text, hostile),
          destination: fc.constant({ container: { containerUrl: 'http://127.0.0.1:1/c' } }),
          uploadOptions: fc.constant({ uploadCondition: 'taskcompletion' }),
        }),
        { maxLength: 1 },
      ),
      constraints: fc.record({ maxTaskRetryCount: number, maxWallClockTime: fc.constantFrom('PT1M', 'P-1D', 'x', 'PT0S') }),
    },
    { requiredKeys: ['id', 'commandLine'] },
  )
  .map((t) => Buffer.from(JSON.stringify(t)));
const taskPost = fc.record({
  target: fc.constant<Target>('batch'),
  method: fc.constant('POST'),
  path: fc.constantFrom(`/jobs/${JOB}/tasks`),
  query: fc.constant<[string, string][]>([]),
  headers: fc.constant<[string, string][]>([['content-type', 'application/json; odata=minimalmetadata']]),
  body: taskBody,
  auth: fc.constant<Auth>('signed'),
});

const batchPath = fc
  .oneof(
    fc.tuple(
      fc.constantFrom('pools', 'jobs', 'jobschedules', 'supportedimages', 'nodecounts', 'lifetimepoolstats', 'lifetimejobstats', 'certificates', '$metadata'),
      fc.array(segment, { maxLength: 5 }),
    ),
    fc.tuple(
      fc.constant('jobs'),
      fc.tuple(
        fc.constant(JOB),
        fc.constantFrom('tasks', 'addtaskcollection', 'taskcounts', 'disable', 'enable', 'terminate'),
        segment,
        fc.constantFrom('files', 'subtasksinfo', 'reactivate', 'terminate'),
        segment,
      ),
    ),
    fc.tuple(
      fc.constant('pools'),
      fc.tuple(
        fc.constant(POOL),
        fc.constantFrom('nodes', 'resize', 'stopresize', 'evaluateautoscale', 'removenodes', 'usagemetrics'),
        segment,
        fc.constantFrom('files', 'users', 'reboot', 'uploadbatchservicelogs'),
        segment,
      ),
    ),
  )
  .map(([first, rest]) => `/${[first, ...rest].join('/')}`);
const blobPath = fc
  .tuple(
    fc.oneof({ weight: 5, arbitrary: fc.constant(ACCOUNT) }, { weight: 1, arbitrary: segment }),
    fc.oneof({ weight: 3, arbitrary: fc.constant('fuzz') }, { weight: 1, arbitrary: segment }),
    fc.array(segment, { maxLength: 3 }),
  )
  .map(([account, container, rest]) => `/${[account, container, ...rest].join('/')}`);
const agentPath = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(`/pools/${POOL}/nodes`, '/nodes/NODE/reports', '/nodes/NODE/reports', '/nodes/NODE/commands') },
    { weight: 1, arbitrary: segment.map((id) => `/nodes/NODE/files/${id}`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.constantFrom('pools', 'nodes'),
          fc.oneof(fc.constant(POOL), fc.constant('NODE'), segment),
          fc.constantFrom('nodes', 'commands', 'reports', 'files'),
          fc.array(segment, { maxLength: 2 }),
        )
        .map(([a, b, c, rest]) => `/${[a, b, c, ...rest].join('/')}`),
    },
  )
  .map((p) => `${AGENT_PREFIX}${p}`);

const QUERY_NAMES = [
  'comp',
  'restype',
  '$filter',
  '$select',
  '$expand',
  'maxresults',
  'timeout',
  'recursive',
  'blockid',
  'blocklisttype',
  'include',
  'prefix',
  'delimiter',
  'marker',
  '$skiptoken',
  'ocpRange',
  'sv',
  'sig',
  'sp',
  'se',
  'sr',
  'srt',
  'ss',
  'api-version',
];
const FILTERS = [
  "state eq 'active'",
  "id eq 'x' and state ne 'completed'",
  `${'('.repeat(300)}id eq 'a'${')'.repeat(300)}`,
  `${'not '.repeat(300)}id eq 'a'`,
  Array(400).fill("id eq 'a'").join(' or '),
  "startswith(id,'f')",
  "constructor eq 'x'",
  'executionInfo/exitCode eq 0',
  "creationTime gt datetime'2020-01-01'",
  "id eq 'unterminated",
];
const queryValue = (name: string) =>
  name === '$filter'
    ? fc.oneof(fc.constantFrom(...FILTERS), text)
    : name === 'comp'
      ? fc.oneof(fc.constantFrom('list', 'metadata', 'properties', 'acl', 'block', 'blocklist'), text)
      : name === 'restype'
        ? fc.constantFrom('container', 'service', 'account', 'x')
        : name === 'api-version'
          ? fc.constantFrom(API_VERSION, '2012-01-01', 'x')
          : text;
const query = fc.array(
  fc.constantFrom(...QUERY_NAMES).chain((name) => queryValue(name).map((v): [string, string] => [name, v])),
  { maxLength: 4 },
);

const HEADER_NAMES = [
  'x-ms-version',
  'x-ms-blob-type',
  'x-ms-range',
  'range',
  'x-ms-meta-constructor',
  'x-ms-meta-__proto__',
  'x-ms-meta-a',
  'x-ms-copy-source',
  'x-ms-blob-content-md5',
  'content-md5',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'x-ms-blob-public-access',
  'x-ms-lease-id',
  'x-ms-date',
  'ocp-date',
  'content-type',
  'x-kiln-file-result',
  'transfer-encoding',
  'expect',
];
const headerValue = fc.oneof(
  fc.constantFrom(
    'BlockBlob',
    'bytes=0-10',
    'bytes=-5',
    'container',
    '2021-08-06',
    '*',
    'application/json',
    '{"ok":true}',
    'chunked',
    '100-continue',
    new Date().toUTCString(),
    'http://127.0.0.1:1/x',
  ),
  fc.string({ maxLength: 20 }),
);
const headers = fc.array(fc.tuple(fc.constantFrom(...HEADER_NAMES), headerValue), { maxLength: 3 });

const anyRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    target: fc.constantFrom<Target>('blob', 'batch', 'batch', 'agent'),
    method: fc.constantFrom('GET', 'GET', 'PUT', 'POST', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS', 'MERGE', 'BREW'),
    query,
    headers,
    body: fc.option(rawBody, { freq: 2 }),
    auth: fc.constantFrom<Auth>('signed', 'signed', 'signed', 'none', 'junk'),
    blob: blobPath,
    batch: batchPath,
    agent: agentPath,
  })
  .map(({ blob, batch, agent, body, ...r }) => ({ ...r, body: body ?? undefined, path: r.target === 'blob' ? blob : r.target === 'batch' ? batch : agent }));
const request: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 5, arbitrary: anyRequest }, { weight: 1, arbitrary: taskPost });

// ---- sending

interface Outcome {
  /** The answer's status; -1 when the connection closed or reset with none. */
  status?: number;
  hung?: boolean;
}

async function send(kiln: KilnProcess, tokens: { join: string; node: string; nodeId: string }, r: FuzzRequest): Promise<Outcome> {
  const port = r.target === 'blob' ? kiln.blobPort : kiln.batchPort;
  if (r.target === 'agent') r = { ...r, path: r.path.replace('/nodes/NODE/', `/nodes/${tokens.nodeId}/`) };
  const search = new URLSearchParams(r.query);
  if (r.target === 'batch' && !r.query.some(([n]) => n === 'api-version')) search.append('api-version', API_VERSION);
  const qs = search.toString();
  const url = new URL(`http://127.0.0.1:${port}${r.path}${qs ? `?${qs}` : ''}`);
  const headers: Record<string, string> = {};
  for (const [name, value] of r.headers) headers[name] = value;
  if (r.body && r.headers.some(([name, value]) => name === 'transfer-encoding' && value === 'chunked'))
    r.body = Buffer.concat([Buffer.from(`${r.body.length.toString(16)}\r\n`), r.body, Buffer.from('\r\n0\r\n\r\n')]);
  if (r.body) headers['content-length'] = String(r.body.length);
  else if (['PUT', 'POST', 'PATCH'].includes(r.method)) headers['content-length'] = '0';
  if (headers['transfer-encoding']) delete headers['content-length'];
  if (r.target === 'batch' && r.auth === 'signed') {
    const resource = new WebResource(url.toString(), r.method as never, undefined, undefined, { ...headers });
    await new BatchSharedKeyCredentials(ACCOUNT, KEY).signRequest(resource);
    Object.assign(headers, resource.headers.rawHeaders());
  } else if (r.target === 'blob' && r.auth === 'signed') {
    headers['x-ms-date'] = new Date().toUTCString();
    headers['x-ms-version'] ??= '2021-08-06';
    headers['authorization'] = `SharedKey ${ACCOUNT}:${blobSharedKeySignature(r.method, url, headers)}`;
  } else if (r.target === 'agent' && r.auth === 'signed') {
    // A node's own calls (/nodes/...) with its node token, joins with the pool's join token.
    headers['authorization'] = `Bearer ${r.path.startsWith(`${AGENT_PREFIX}/nodes/`) ? tokens.node : tokens.join}`;
  } else if (r.auth === 'junk') {
    headers['authorization'] = r.target === 'agent' ? 'Bearer AAAA.BBBB' : `SharedKey ${ACCOUNT}:AAAA=junk`;
  }
  const head = `${r.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${Object.entries(headers)
    .map(([n, v]) => `${n}: ${v}\r\n`)
    .join('')}\r\n`;
  return rawExchange(port, Buffer.concat([Buffer.from(head, 'utf8'), r.body ?? Buffer.alloc(0)]), r.method === 'HEAD');
}

/**
 * One request on a connection of its own, written as bytes (a fuzzer sends what HTTP clients refuse
 * to), and the status of the answer. A reset counts as an answer when the answer came before it.
 */
function rawExchange(port: number, bytes: Buffer, isHead: boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let status: number | undefined;
    const done = (o: Outcome) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ hung: true }), DEADLINE_MS);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      for (;;) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = received.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? -2);
        if (status === 100) {
          received = received.subarray(end + 4);
          continue;
        }
        const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1];
        const body = received.length - end - 4;
        // A command stream answers 200 and goes on: its head is the answer.
        if (isHead || /ndjson/i.test(head) || status === 204 || status === 304 || (length !== undefined && body >= Number(length))) done({ status });
        else if (/transfer-encoding: *chunked/i.test(head) && received.subarray(end).includes('\r\n0\r\n\r\n')) done({ status });
        return;
      }
    });
    socket.on('error', () => done({ status: status ?? -1 }));
    socket.on('close', () => done({ status: status ?? -1 }));
  });
}

// ---- what must hold outside Kiln

/** Every entry under `dir` with its kind, mode, size and mtime: what a stray write would change. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('fuzzing the Blob, Batch and agent endpoints', () => {
  let kiln: KilnProcess;
  let parent: string;
  let outside: string;
  let before_: string[];
  const tokens = { join: '', node: '', nodeId: '' };
  before(async () => {
    // Kiln's directories and one that is not Kiln's, side by side: traversal aims at the latter.
    parent = tempDir('kiln-fuzz-');
    fs.chmodSync(parent, 0o755);
    outside = path.join(parent, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'marker'), 'untouched\n', { mode: 0o600 });
    fs.mkdirSync(path.join(parent, 'nodes'));
    kiln = await startKiln({ dataDir: path.join(parent, 'data'), nodesDir: path.join(parent, 'nodes'), extraArgs: ['--header-timeout', '2000', '--body-idle-timeout', '2000'] });
    const client = kiln.batchClient();
    await kiln.blobService().getContainerClient('fuzz').create();
    await kiln.blobService().getContainerClient('fuzz').getBlockBlobClient('blob.txt').upload('hello', 5);
    await client.pool.add({ id: POOL, vmSize: 'standard_d2s_v3', virtualMachineConfiguration: vm, targetDedicatedNodes: 1 });
    await waitForNodes(client, POOL, 1);
    await client.job.add({ id: JOB, poolInfo: { poolId: POOL }, usesTaskDependencies: true });
    await client.task.add(JOB, { id: 't0', commandLine: "/bin/sh -c 'mkdir -p wd && echo hi > wd/f'" });
    await waitForTask(client, JOB, 't0');
    tokens.join = execFileSync(process.execPath, [KILN_BIN, 'agent-token', '--pool', POOL], { encoding: 'utf8', env: { ...process.env, KILN_ACCOUNTS: '' } }).trim();
    // A node of the fuzzer's own, joined as an agent would: its token reaches the calls a node makes.
    const joined = await fetch(`${kiln.batchUrl}${AGENT_PREFIX}/pools/${POOL}/nodes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.join}`, 'content-type': 'application/json' },
      body: JSON.stringify({ hostname: 'fuzz', isDedicated: true, canSeparateUsers: false }),
    });
    assert.equal(joined.status, 200, await joined.clone().text());
    const session = (await joined.json()) as { nodeId: string; nodeToken: string };
    tokens.node = session.nodeToken;
    tokens.nodeId = session.nodeId;
    before_ = [...snapshot(outside), ...fs.readdirSync(parent).sort()];
  });
  after(async () => {
    await stopKiln(kiln);
  });

  it(`${RUNS} random requests: no crash, no 5xx, no hang, nothing written outside Kiln's directories (seed ${SEED})`, async () => {
    const failures: string[] = [];
    const counts = { sent: 0, signed: 0, byTarget: { blob: 0, batch: 0, agent: 0 } as Record<Target, number>, statuses: new Map<number, number>() };
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const outcome = await send(kiln, tokens, r);
        counts.sent++;
        counts.byTarget[r.target]++;
        if (r.auth === 'signed') counts.signed++;
        counts.statuses.set(outcome.status ?? 0, (counts.statuses.get(outcome.status ?? 0) ?? 0) + 1);
        const bad = outcome.hung
          ? 'no answer in time'
          : outcome.status === -1
            ? 'connection reset'
            : outcome.status! >= 500 && outcome.status !== 501
              ? `status ${outcome.status}`
              : undefined;
        if (bad && failures.length < 20)
          failures.push(
            `${bad}: ${r.method} ${r.target} ${r.path.slice(0, 120)} q=${JSON.stringify(r.query).slice(0, 200)} h=${JSON.stringify(r.headers)} auth=${r.auth} body=${r.body?.subarray(0, 200).toString()}`,
          );
        if (kiln.child.exitCode !== null) throw new Error(`kiln exited (${kiln.child.exitCode}) after ${r.method} ${r.path}`);
        return true;
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(
      `fuzz: ${counts.sent} requests sent (${counts.signed} signed; blob ${counts.byTarget.blob}, batch ${counts.byTarget.batch}, agent ${counts.byTarget.agent}); statuses ${JSON.stringify([...counts.statuses].sort((a, b) => a[0] - b[0]))}`,
    );
    assert.deepEqual(failures, [], `seed ${SEED}`);
    assert.ok(
      [...counts.statuses.keys()].some((s) => s >= 200 && s < 300),
      'some requests got past authentication and were served',
    );
    // The server lives and answers as before.
    assert.equal(kiln.child.exitCode, null);
    // (The fuzzer may have deleted what it was given: its requests are signed. The services still answer.)
    assert.ok(Array.isArray(await kiln.batchClient().job.list()));
    await kiln.blobService().getContainerClient('after-fuzz').create();
    assert.match(kiln.output(), /Kiln is up/);
    // Every failure a handler logs is unexpected (a client that hung up mid-body is not a failure).
    const unexpected = kiln
      .output()
      .split('\n')
      .filter((l) => /failed: |unhandled/i.test(l));
    assert.deepEqual(unexpected, [], 'no handler failed with an unexpected error');
    assert.deepEqual([...snapshot(outside), ...fs.readdirSync(parent).sort()], before_, 'nothing outside Kiln changed');
    assert.equal(fs.readFileSync(path.join(outside, 'marker'), 'utf8'), 'untouched\n');
  });
});
