#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerAgentToken } from './agentToken.js';
import { registerTutorial } from './tutorial.js';
import { registerUp } from './up.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };
const program = new Command('kiln').description('Kiln: self-hosted batch compute, wire-compatible with Azure Batch and Blob Storage').version(version);
registerUp(program);
registerAgent(program);
registerTutorial(program);
registerAgentToken(program);
program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`kiln: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
