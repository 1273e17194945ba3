import path from 'node:path';
import type { Command } from 'commander';
import { NodeAgent } from '../agent/agent.js';

interface AgentCliOptions {
  batchUrl: string;
  pool: string;
  token: string;
  root: string;
  nodeId?: string;
  lowPriority?: boolean;
  exitWithStdin?: boolean;
}

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a compute node: join a pool of a Kiln Batch service and run its tasks')
    .requiredOption('--batch-url <url>', 'the Batch service, e.g. http://10.0.0.1:10100 (env KILN_BATCH_URL)', process.env.KILN_BATCH_URL)
    .requiredOption('--pool <id>', 'the pool to join')
    .requiredOption('--token <token>', "the pool's join token (kiln up prints how to get it; env KILN_AGENT_TOKEN)", process.env.KILN_AGENT_TOKEN)
    .option('--root <dir>', "the node's root directory (AZ_BATCH_NODE_ROOT_DIR)", path.resolve('kiln-node'))
    .option('--node-id <id>', 'the node id (default: the service picks one)')
    .option('--low-priority', 'join as a low-priority (spot) node')
    .option('--exit-with-stdin', 'stop, with every task, when standard input closes (kiln up runs its local nodes so: they die with it)')
    .action(async (opts: AgentCliOptions) => {
      const agent = new NodeAgent({
        batchUrl: opts.batchUrl,
        poolId: opts.pool,
        joinToken: opts.token,
        rootDir: path.resolve(opts.root),
        nodeId: opts.nodeId,
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
