import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BatchServiceClient, BatchSharedKeyCredentials } from '@azure/batch';
import Database from 'better-sqlite3';
import { joinToken } from '../../src/auth/agentTokens.js';
import { devAccount, makeAccount } from '../../src/config/accounts.js';
import { ACCOUNT, KEY, KILN_BIN, startKiln, tempDir, waitFor, type KilnProcess } from '../helpers/kiln.js';
import { agentPids, vm } from '../nodes/helpers.js';

// Attacks on the node agent protocol by holders of some token (a pool's, another pool's, another
// account's) or of none, against a kiln up whose pool A runs a real task on a real local agent.
const OTHER = makeAccount('otheraccount', Buffer.alloc(64, 7).toString('base64'));
const dev = devAccount();

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

interface Joined {
  nodeId: string;
  nodeToken: string;
}

describe('nodes are bound to their pool, account and session', () => {
  let kiln: KilnProcess;
  let api: string;
  const gateDir = tempDir('kiln-binding-gate-');
  fs.chmodSync(gateDir, 0o755); // the task runs as the unprivileged task user
  const gate = path.join(gateDir, 'open');
  let nodeA: string;

  const call = async (method: string, route: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const response = await fetch(`${api}${route}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: the assertion on the status tells
    }
    return { status: response.status, body: parsed, text };
  };
  const join = (pool: string, token: string, extra: Record<string, unknown> = {}) =>
    call('POST', `/pools/${pool}/nodes`, token, { hostname: 'attacker', isDedicated: true, canSeparateUsers: false, ...extra });
  const joinOk = async (pool: string, token: string, extra: Record<string, unknown> = {}): Promise<Joined> => {
    const answer = await join(pool, token, extra);
    assert.equal(answer.status, 200, answer.text);
    return answer.body as unknown as Joined;
  };
  const success = { startTime: new Date().toISOString(), endTime: new Date().toISOString(), exitCode: 0, result: 'success', preProcessingError: false, fileUploadError: false };
  // Run ids name the job by its uid (task/<job uid>/<task id>/<retry>.<requeue>). Say an attacker
  // knows it (it is not a secret: the session is what a report is checked against): the real run
  // id, read from the store, and guesses of every other form.
  const forgedReports = (jobId: string, taskId: string) => {
    const db = new Database(path.join(kiln.dataDir, 'kiln.sqlite'), { readonly: true });
    const uid = (db.prepare('SELECT uid FROM batch_jobs WHERE id_key = ?').pluck().get(jobId) as string | undefined) ?? 'none';
    db.close();
    const ids = [uid, ...Array.from({ length: 20 }, (_, i) => String(i + 1)), uid.toUpperCase()];
    return ids.map((job) => ({ type: 'completed', runId: `task/${job}/${taskId}/0.0`, result: success }));
  };
  const report = (node: Joined, reports: unknown[]) => call('POST', `/nodes/${node.nodeId}/reports`, node.nodeToken, { reports });
  const client = () => kiln.batchClient();
  const otherClient = () => new BatchServiceClient(new BatchSharedKeyCredentials(OTHER.name, OTHER.keyBase64), kiln.batchUrl);
  const taskState = async () => (await client().task.get('victim-job', 'victim')).state;

  before(async () => {
    kiln = await startKiln({ extraArgs: ['--account', `${ACCOUNT}:${KEY}`, '--account', `${OTHER.name}:${OTHER.keyBase64}`] });
    api = `${kiln.batchUrl}/kiln-agent/v1`;
    await client().pool.add({ id: 'pool-a', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 1, virtualMachineConfiguration: vm });
    await client().pool.add({ id: 'pool-b', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    // The other account has a pool of the same name.
    await otherClient().pool.add({ id: 'pool-a', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const [node] = await waitFor(
      'pool A to have its node idle',
      async () => {
        const nodes = await client().computeNode.list('pool-a');
        return nodes.length === 1 && nodes[0]!.state === 'idle' ? nodes : undefined;
      },
      30_000,
    );
    nodeA = node!.id!;
    await client().job.add({ id: 'victim-job', poolInfo: { poolId: 'pool-a' } });
    // The real task: waits for its gate, then fails with exit code 7. That is the result that must stand.
    await client().task.add('victim-job', { id: 'victim', commandLine: `/bin/sh -c 'while [ ! -e ${gate} ]; do sleep 0.05; done; exit 7'` });
    await waitFor('the victim task to run on node A', async () => ((await taskState()) === 'running' ? true : undefined), 30_000);
  });

  after(async () => {
    fs.writeFileSync(gate, '');
    await kiln.stop();
    for (const dir of [kiln.dataDir, kiln.nodesDir, gateDir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a join under the id of a node of another pool or account, or of a live node of its own pool', async () => {
    const forgedFor = (account: string, pool: string) => `${account}.${pool}.${nodeA}.${Buffer.alloc(32, 1).toString('base64url')}`;
    // The old way: a node id in the join body.
    for (const [pool, token] of [
      ['pool-b', joinToken(dev, 'pool-b')],
      ['pool-a', joinToken(dev, 'pool-a')],
      ['pool-a', joinToken(OTHER, 'pool-a')],
    ] as const) {
      const answer = await join(pool, token, { nodeId: nodeA });
      assert.equal(answer.status, 400, `a node id of the agent's choosing is refused (${pool}): ${answer.text}`);
    }
    // A node token of A's node that is not its session's, presented with pool B's, pool A's and another account's join token.
    const attempts: [string, string, string][] = [
      ['pool-b', joinToken(dev, 'pool-b'), forgedFor(ACCOUNT, 'pool-b')],
      ['pool-b', joinToken(dev, 'pool-b'), forgedFor(ACCOUNT, 'pool-a')],
      ['pool-a', joinToken(dev, 'pool-a'), forgedFor(ACCOUNT, 'pool-a')],
      ['pool-a', joinToken(OTHER, 'pool-a'), forgedFor(OTHER.name, 'pool-a')],
      ['pool-a', joinToken(OTHER, 'pool-a'), forgedFor(ACCOUNT, 'pool-a')],
    ];
    for (const [pool, token, nodeToken] of attempts) {
      const answer = await join(pool, token, { nodeToken });
      assert.equal(answer.status, 403, `${pool} with ${nodeToken.split('.').slice(0, 2).join('.')}: ${answer.text}`);
    }
    // Another account's join token on this account's pool, and an account the server does not know.
    assert.equal((await join('pool-b', joinToken(OTHER, 'pool-b'))).status, 404, 'the other account has no pool-b: its token joins nothing here');
    assert.equal((await join('pool-a', joinToken(makeAccount('nosuchaccount', OTHER.keyBase64), 'pool-a'))).status, 401);

    // Nodes that join get ids the server picks, never A's.
    const b = await joinOk('pool-b', joinToken(dev, 'pool-b'));
    const other = await joinOk('pool-a', joinToken(OTHER, 'pool-a'));
    assert.notEqual(b.nodeId, nodeA);
    assert.notEqual(other.nodeId, nodeA);
    assert.deepEqual(
      (await client().computeNode.list('pool-a')).map((n) => n.id),
      [nodeA],
      "pool A's nodes are as they were",
    );
    assert.equal((await client().computeNode.get('pool-a', nodeA)).state, 'running');
    assert.equal(await taskState(), 'running');
  });

  it("refuses forged reports for A's running task from other sessions, pools and accounts; the real result stands", async () => {
    const b = await joinOk('pool-b', joinToken(dev, 'pool-b'));
    const other = await joinOk('pool-a', joinToken(OTHER, 'pool-a'));
    const forged = forgedReports('victim-job', 'victim');
    for (const node of [b, other]) {
      const answer = await report(node, forged);
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(
        answer.body.refused,
        forged.map((r) => r.runId),
        'every forged report is refused',
      );
    }
    // A's node id with a token that is not its session's: no session at all.
    const guessed = { nodeId: nodeA, nodeToken: `${ACCOUNT}.pool-a.${nodeA}.${Buffer.alloc(32, 2).toString('base64url')}` };
    assert.equal((await report(guessed, forged)).status, 401);
    assert.equal((await call('GET', `/nodes/${nodeA}/commands`, guessed.nodeToken)).status, 401, 'nor may it take the command stream');
    // B's session token on A's node's path.
    assert.equal((await call('POST', `/nodes/${nodeA}/reports`, b.nodeToken, { reports: forged })).status, 403);
    // The token kiln up gave A's agent for its first join is spent: the agent's join replaced it.
    const [agentPid] = agentPids(nodeA);
    assert.ok(agentPid, "node A's agent runs");
    const environ = fs.readFileSync(`/proc/${agentPid}/environ`, 'utf8').split('\0');
    const firstToken = environ.find((e) => e.startsWith('KILN_NODE_TOKEN='))?.slice('KILN_NODE_TOKEN='.length);
    assert.ok(firstToken?.startsWith(`${ACCOUNT}.pool-a.${nodeA}.`), 'kiln up gave the agent a token for its node');
    assert.equal((await report({ nodeId: nodeA, nodeToken: firstToken! }, forged)).status, 401, 'a spent session token is refused');
    assert.equal((await join('pool-a', joinToken(dev, 'pool-a'), { nodeToken: firstToken })).status, 403, 'and cannot rejoin as the node');

    assert.equal(await taskState(), 'running', 'the forged reports changed nothing');
    fs.writeFileSync(gate, '');
    const task = await waitFor(
      'the victim task to complete',
      async () => {
        const t = await client().task.get('victim-job', 'victim');
        return t.state === 'completed' ? t : undefined;
      },
      30_000,
    );
    assert.equal(task.executionInfo?.exitCode, 7, 'the real exit code stands');
    assert.equal(task.executionInfo?.result, 'failure');
    assert.equal(task.nodeInfo?.nodeId, nodeA);
  });

  it("refuses an old session's token after a rejoin, and its late reports", async () => {
    // A pool of one hand-joined node, so that the task goes to it.
    await client().pool.add({ id: 'pool-c', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    await client().job.add({ id: 'handmade-job', poolInfo: { poolId: 'pool-c' } });
    const first = await joinOk('pool-c', joinToken(dev, 'pool-c'));
    const stream = new AbortController();
    const commands = await fetch(`${api}/nodes/${first.nodeId}/commands`, { headers: { authorization: `Bearer ${first.nodeToken}` }, signal: stream.signal });
    assert.equal(commands.status, 200);
    const reader = commands.body!.getReader();
    await client().task.add('handmade-job', { id: 'held', commandLine: '/bin/true' });
    let text = '';
    const runId = await waitFor(
      'the task to reach the first session',
      async () => {
        text += new TextDecoder().decode((await reader.read()).value);
        const line = text.split('\n').find((l) => l.includes('"runTask"'));
        return line ? (JSON.parse(line) as { runId: string; type: string }[]).find((c) => c.type === 'runTask')!.runId : undefined;
      },
      20_000,
    );
    stream.abort();
    assert.equal((await client().task.get('handmade-job', 'held')).nodeInfo?.nodeId, first.nodeId);

    // The agent rejoins (as after a reboot): the same node, a new session; the task goes back to the queue.
    const second = await joinOk('pool-c', joinToken(dev, 'pool-c'), { nodeToken: first.nodeToken });
    assert.equal(second.nodeId, first.nodeId, 'a rejoin keeps its node');
    assert.notEqual(second.nodeToken, first.nodeToken);
    assert.equal((await report(first, [{ type: 'completed', runId, result: success }])).status, 401, "the old session's late report is refused");
    assert.equal((await call('GET', `/nodes/${first.nodeId}/commands`, first.nodeToken)).status, 401, "the old session's token opens no stream");
    assert.equal((await join('pool-c', joinToken(dev, 'pool-c'), { nodeToken: first.nodeToken })).status, 403, 'the old token no longer rejoins');
    // Even through the new session, the old run's report is stale.
    const stale = await report(second, [{ type: 'completed', runId, result: success }]);
    assert.equal(stale.status, 200, stale.text);
    assert.deepEqual(stale.body.refused, [runId]);
    const task = await client().task.get('handmade-job', 'held');
    assert.notEqual(task.state, 'completed', 'no late report completed the task');
    assert.equal(task.executionInfo?.requeueCount, 1, 'the rejoin took the task back');
  });

  it('tells a job from a deleted one of the same id: a late report of the old run changes nothing of the new', async () => {
    await client().pool.add({ id: 'pool-d', vmSize: 'standard_d2s_v3', targetDedicatedNodes: 0, virtualMachineConfiguration: vm });
    const node = await joinOk('pool-d', joinToken(dev, 'pool-d'));
    const stream = new AbortController();
    const commands = await fetch(`${api}/nodes/${node.nodeId}/commands`, { headers: { authorization: `Bearer ${node.nodeToken}` }, signal: stream.signal });
    assert.equal(commands.status, 200);
    const reader = commands.body!.getReader();
    const runs: string[] = [];
    let text = '';
    const nextRun = (n: number) =>
      waitFor(
        `run ${n} to reach the node`,
        async () => {
          text += new TextDecoder().decode((await reader.read()).value);
          const lines = text.split('\n');
          text = lines.pop()!;
          for (const line of lines.filter((l) => l.trim()))
            runs.push(...(JSON.parse(line) as { type: string; runId: string }[]).filter((c) => c.type === 'runTask').map((c) => c.runId));
          return runs[n];
        },
        20_000,
      );
    try {
      await client().job.add({ id: 'again', poolInfo: { poolId: 'pool-d' } });
      await client().task.add('again', { id: 't', commandLine: '/bin/true' });
      const first = await nextRun(0);
      // The job goes while its task runs, and a new job takes its id (in SQLite, also its row key).
      await client().job.deleteMethod('again');
      await waitFor(
        'the job to be gone',
        async () =>
          (await client()
            .job.get('again')
            .catch((e: { statusCode?: number }) => e.statusCode)) === 404
            ? true
            : undefined,
        20_000,
      );
      await client().job.add({ id: 'again', poolInfo: { poolId: 'pool-d' } });
      await client().task.add('again', { id: 't', commandLine: '/bin/true' });
      const second = await nextRun(1);
      assert.notEqual(second, first, "the new job's run has an id of its own");
      const late = await report(node, [{ type: 'completed', runId: first, result: { ...success, exitCode: 3, result: 'failure' } }]);
      assert.equal(late.status, 200, late.text);
      assert.deepEqual(late.body.refused, [first], "the old run's report is refused");
      assert.equal((await client().task.get('again', 't')).state, 'running', 'and the new task still runs');
      // Were the old run still going, the node's heartbeat would list it: the server stops it.
      await call('POST', `/nodes/${node.nodeId}/reports`, node.nodeToken, { reports: [], running: [first, second] });
      const kill = await waitFor(
        'the old run to be stopped',
        async () => {
          text += new TextDecoder().decode((await reader.read()).value);
          const line = text.split('\n').find((l) => l.includes('"killTask"'));
          return line ? (JSON.parse(line) as { type: string; runId: string }[]) : undefined;
        },
        20_000,
      );
      assert.deepEqual(kill, [{ type: 'killTask', runId: first }], 'the old run alone, not the new one');
      const own = await report(node, [{ type: 'completed', runId: second, result: success }]);
      assert.deepEqual(own.body.refused, []);
      const task = await client().task.get('again', 't');
      assert.equal(task.state, 'completed');
      assert.equal(task.executionInfo?.exitCode, 0, "the new run's own result stands");
    } finally {
      stream.abort();
    }
  });

  it('takes a file answer only from the node the request went to', async () => {
    const asked = await joinOk('pool-b', joinToken(dev, 'pool-b'));
    const intruder = await joinOk('pool-b', joinToken(dev, 'pool-b'));
    const stream = new AbortController();
    const commands = await fetch(`${api}/nodes/${asked.nodeId}/commands`, { headers: { authorization: `Bearer ${asked.nodeToken}` }, signal: stream.signal });
    const reader = commands.body!.getReader();
    const listing = client().file.listFromComputeNode('pool-b', asked.nodeId, { recursive: true });
    let text = '';
    const requestId = await waitFor(
      'the file request to reach the node',
      async () => {
        text += new TextDecoder().decode((await reader.read()).value);
        const line = text.split('\n').find((l) => l.includes('"files"'));
        return line ? (JSON.parse(line) as { requestId: string }[])[0]!.requestId : undefined;
      },
      20_000,
    );
    const entries = [{ name: 'planted.txt', isDirectory: false, size: 1, mtimeMs: 0, ctimeMs: 0, mode: 0o100644 }];
    const answerAs = (node: Joined, names: typeof entries) =>
      call('POST', `/nodes/${node.nodeId}/files/${requestId}`, node.nodeToken, '', { 'x-kiln-file-result': JSON.stringify({ ok: true, entries: names }) });
    assert.equal((await answerAs(intruder, entries)).status, 404, "another node's answer is refused");
    assert.equal((await answerAs(asked, [{ ...entries[0]!, name: 'real.txt' }])).status, 200);
    const files = await listing;
    stream.abort();
    assert.deepEqual(
      files.map((f) => f.name),
      ['real.txt'],
      'the API answered with the asked node’s answer',
    );
  });

  it('answers malformed agent messages with a 4xx, never a 500 or an exception text', async () => {
    const node = await joinOk('pool-b', joinToken(dev, 'pool-b'));
    const poolToken = joinToken(dev, 'pool-b');
    const joinBodies = [
      'null',
      '[]',
      '"x"',
      '{}',
      'not json',
      '{"hostname":1,"isDedicated":true,"canSeparateUsers":false}',
      '{"hostname":"h","isDedicated":"yes","canSeparateUsers":false}',
      '{"hostname":"h","isDedicated":true,"canSeparateUsers":false,"nodeToken":5}',
      '{"hostname":"h","isDedicated":true,"canSeparateUsers":false,"__proto__":{"x":1}}',
      '{"hostname":"h","isDedicated":true,"canSeparateUsers":false,"nodeToken":"a.b"}',
    ];
    const reportBodies = [
      'null',
      '{}',
      '[]',
      '{"reports":null}',
      '{"reports":[null]}',
      '{"reports":[5]}',
      '{"reports":[{"type":"completed","runId":5,"result":{}}]}',
      '{"reports":[{"type":"completed","runId":"task/1/x/0.0"}]}',
      `{"reports":[{"type":"completed","runId":"task/1/x/0.0","result":${JSON.stringify({ ...success, startTime: 'yesterday' })}}]}`,
      `{"reports":[{"type":"completed","runId":"task/1/x/0.0","result":${JSON.stringify({ ...success, failureInfo: { category: 'usererror', details: 'x' } })}}]}`,
      `{"reports":[{"type":"other","runId":"task/1/x/0.0","result":${JSON.stringify(success)}}]}`,
      '{"reports":[],"running":[1]}',
      '{"reports":[],"running":"all"}',
      '{"reports":[],"constructor":1}',
    ];
    const cases: [string, () => Promise<Answer>][] = [
      ...joinBodies.map((b): [string, () => Promise<Answer>] => [`join ${b}`, () => call('POST', '/pools/pool-b/nodes', poolToken, b)]),
      ...reportBodies.map((b): [string, () => Promise<Answer>] => [`reports ${b}`, () => call('POST', `/nodes/${node.nodeId}/reports`, node.nodeToken, b)]),
      ...['not json', 'null', '{"ok":true,"entries":5}', '{"ok":"yes"}', '{"ok":false,"error":"boom","message":"m"}', '{"ok":true,"stat":{"name":"x"}}'].map(
        (h): [string, () => Promise<Answer>] => [
          `file result ${h}`,
          () => call('POST', `/nodes/${node.nodeId}/files/some-request`, node.nodeToken, '', { 'x-kiln-file-result': h }),
        ],
      ),
      ['file result missing', () => call('POST', `/nodes/${node.nodeId}/files/some-request`, node.nodeToken, '')],
      ['a malformed path escape', () => call('POST', `/nodes/%E0%A4%A/reports`, node.nodeToken, '{"reports":[]}')],
      ['a malformed bearer token', () => call('POST', `/nodes/${node.nodeId}/reports`, `${ACCOUNT}.a.b.c.d.e`, '{"reports":[]}')],
    ];
    for (const [what, send] of cases) {
      const answer = await send();
      assert.ok(answer.status >= 400 && answer.status < 500, `${what}: ${answer.status} ${answer.text}`);
      assert.doesNotMatch(answer.text, /TypeError|SyntaxError|Cannot read|undefined is not|at [\w.]+ \(/, `${what}: no exception text`);
    }
    assert.equal((await report(node, [])).status, 200, 'the node still works after all that');
  });

  it('takes join tokens from env or a file, never from the command line', () => {
    const refused = spawnSync(
      process.execPath,
      [KILN_BIN, 'agent', '--batch-url', kiln.batchUrl, '--pool', 'pool-b', '--token', joinToken(dev, 'pool-b'), '--root', path.join(gateDir, 'n')],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /--token is refused.*KILN_AGENT_TOKEN.*--token-file/);
    // kiln up's own agents: no token in their command lines.
    for (const pid of agentPids(nodeA)) {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      assert.ok(!cmdline.includes(joinToken(dev, 'pool-a')), 'no join token in argv');
      assert.doesNotMatch(cmdline, new RegExp(`${ACCOUNT}\\.pool-a\\.${nodeA}\\.`), 'no node token in argv');
    }
  });
});
