import type { Command } from 'commander';
import { joinToken } from '../auth/agentTokens.js';
import { resolveAccounts } from '../config/config.js';

export function registerAgentToken(program: Command): void {
  program
    .command('agent-token')
    .description("print a pool's join token, for `kiln agent` on another machine (env KILN_AGENT_TOKEN or --token-file; derived from the account key)")
    .requiredOption('--pool <id>', 'the pool the agent joins')
    .option('--account <name:base64key>', 'the account (env KILN_ACCOUNTS; default devstoreaccount1 with the development key)')
    .action((opts: { pool: string; account?: string }) => {
      const [account] = resolveAccounts({ specs: opts.account ? [opts.account] : [], files: [] });
      console.log(joinToken(account!, opts.pool));
    });
}
