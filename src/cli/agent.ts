import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { NodeAgent } from '../agent/agent.js';
import { NodeTokenStore } from '../agent/nodeTokenStore.js';
import { transferPolicy } from '../agent/transfers.js';
import { parseNodeToken } from '../auth/agentTokens.js';
import { assertSearchableByTasks } from './searchablePath.js';

interface AgentCliOptions {
  batchUrl: string;
  pool: string;
  token?: string;
  tokenFile?: string;
  root: string;
  nodeId?: string;
  lowPriority?: boolean;
  exitWithStdin?: boolean;
}

const TOKEN_HOW = 'give the join token in env KILN_AGENT_TOKEN or in a file with --token-file <path>';

/**
 * The join token, from the environment or a file: never from argv, which every local user reads
 * (ps, /proc/PID/cmdline). Taken out of the environment once read, so nothing started later inherits it.
 */
function joinTokenOf(opts: AgentCliOptions): string {
  if (opts.token !== undefined) fail(`--token is refused: a token on the command line is visible to every user of this machine; ${TOKEN_HOW}`);
  const token = opts.tokenFile !== undefined ? readTokenFile(opts.tokenFile) : process.env.KILN_AGENT_TOKEN?.trim();
  delete process.env.KILN_AGENT_TOKEN;
  if (!token) fail(`no join token: ${TOKEN_HOW} (kiln agent-token --pool <pool> prints it)`);
  return token;
}

function readTokenFile(file: string): string {
  try {
    if ((fs.statSync(file).mode & 0o077) !== 0) console.error(`kiln agent: warning: ${file} is readable by other users; chmod 600 it`);
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    return fail(`cannot read the token file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** The node token kiln up gives the local agents it starts (env KILN_NODE_TOKEN), for their first join. */
function nodeTokenOf(opts: AgentCliOptions): string | undefined {
  const token = process.env.KILN_NODE_TOKEN?.trim() || undefined;
  delete process.env.KILN_NODE_TOKEN;
  if (opts.nodeId === undefined) return token;
  if (!token || parseNodeToken(token)?.nodeId !== opts.nodeId)
    fail(`--node-id ${opts.nodeId} needs that node's token in env KILN_NODE_TOKEN: the service picks the ids of the nodes that join it`);
  return token;
}

function fail(message: string): never {
  console.error(`kiln agent: ${message}`);
  process.exit(2);
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a compute node: join a pool of a Kiln Batch service and run its tasks')
    .requiredOption('--batch-url <url>', 'the Batch service, e.g. http://10.0.0.1:10100 (env KILN_BATCH_URL)', process.env.KILN_BATCH_URL)
    .requiredOption('--pool <id>', 'the pool to join')
    .option('--token-file <path>', "a file holding the pool's join token (or env KILN_AGENT_TOKEN; kiln agent-token prints it)")
    .addOption(new Option('--token <token>', 'refused: a token on the command line is visible to every local user').hideHelp())
    .option('--root <dir>', "the node's root directory (AZ_BATCH_NODE_ROOT_DIR)", path.resolve('kiln-node'))
    .option('--node-id <id>', "the node kiln up started this agent as (with that node's token in env KILN_NODE_TOKEN); otherwise the service picks the id")
    .option('--low-priority', 'join as a low-priority (spot) node')
    .option('--exit-with-stdin', 'stop, with every task, when standard input closes (kiln up runs its local nodes so: they die with it)')
    .action(async (opts: AgentCliOptions) => {
      if (process.getuid?.() === 0) assertSearchableByTasks(opts.root, '--root', { self: false }); // the agent sets the root's own mode
      transferPolicy(); // a wrong KILN_TRANSFER_* setting stops the agent here, not each task's transfers
      const nodeToken = nodeTokenOf(opts);
      const rootDir = path.resolve(opts.root);
      const agent = new NodeAgent({
        batchUrl: opts.batchUrl,
        poolId: opts.pool,
        joinToken: joinTokenOf(opts),
        nodeToken,
        rootDir,
        // kiln up's local nodes are given their token; an agent on its own keeps its node's.
        ...(nodeToken === undefined ? { nodeTokens: new NodeTokenStore(rootDir, opts.batchUrl, opts.pool) } : {}),
        isDedicated: !opts.lowPriority,
        log: (m) => console.error(`[agent] ${m}`),
      });
      const stop = () => {
        agent.stop();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (opts.exitWithStdin) {
        // The parent holds the other end of this pipe; it closes however the parent ends, SIGKILL too.
        process.stdin.once('end', stop);
        process.stdin.once('error', stop);
        process.stdin.resume();
      }
      await agent.run();
      process.exit(0);
    });
}
