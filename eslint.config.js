// ESLint 9 flat config: typescript-eslint's recommended rules, and import boundaries that keep Kiln's
// layering (issue 10's target layout). Dependencies point one way, inward to the domain: the protocol
// layer calls the domain; persistence implements the domain's ports; the control plane (src/cluster,
// src/scheduler) depends on the domain; src/agent, src/cli and src/server wire things together.
// Test code may import anything. Type-aware for src/ only, and only for promises: the store ports are
// asynchronous, and a store call or unit of work left without `await` (or a promise handed to an
// event emitter) would run after, or beside, the change it belongs to.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

// Top-level directories of src/ that a layer may be forbidden to import.
const LAYERS = ['agent', 'auth', 'cli', 'cluster', 'config', 'domain', 'persistence', 'protocol', 'scheduler', 'server'];

/**
 * Import-boundary rules: files under src/<dir>/ may not import from the `forbidden` paths of src/.
 * Imports are relative, so a pattern is written for one depth: `../persistence/` in src/domain/batch/x.ts
 * would be src/domain/persistence. One config per depth anchors each pattern at the right directory
 * (`../../persistence/` from src/domain/batch/x.ts), so src/agent/ is never confused with
 * src/protocol/agent/, and a sibling such as protocol/batch is caught as `../batch/` from
 * src/protocol/agent/. A forbidden path may be a sub-path (`protocol/batch`) or end in a negative
 * lookahead for the one module allowed (`agent/(?!runTask\.js$)`).
 */
function boundary(dir, forbidden, why) {
  const dirParts = dir.split('/');
  for (const path of forbidden) {
    if (!LAYERS.includes(path.split('/')[0])) throw new Error(`eslint.config.js: unknown layer in ${path}`);
  }
  const regexFor = (path, extra) => {
    const parts = path.split('/');
    let common = 0;
    while (common < dirParts.length - 1 && parts[common] === dirParts[common]) common++;
    const fromSrc = `(\\.\\./){${dirParts.length + extra - 1}}${path}`;
    const fromSibling = `(\\.\\./){${dirParts.length - common + extra - 1}}${parts.slice(common).join('/')}`;
    const end = path.includes('(?!') ? '' : '(/|\\.js$|$)';
    return common === 0 ? `^${fromSrc}${end}` : `^(${fromSrc}|${fromSibling})${end}`;
  };
  // Six levels below the layer's directory; src/ is three deep today.
  return [1, 2, 3, 4, 5, 6].map((extra) => ({
    files: [`src/${dir}/${'*/'.repeat(extra - 1)}*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: forbidden.map((path) => ({
            regex: regexFor(path, extra),
            message: `src/${dir} may not import src/${path.replace(/\/\(\?!.*$/, '')}: ${why}.`,
          })),
        },
      ],
    },
  }));
}

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', '.bench/', '.bench-data/', 'tutorial-output/', 'scripts/vm-sizes/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names are deliberately unused (an interface's parameter, a skipped tuple slot).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' }],
    },
  },
  // Plain JavaScript (this file, the tutorial's task script, a bench worker) runs on Node.
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { console: 'readonly', process: 'readonly', fetch: 'readonly', URL: 'readonly', Buffer: 'readonly' },
    },
  },
  {
    files: ['src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  // Tests and benchmarks read SDK errors' and responses' untyped fields (`(e: any) => e.code === ...`).
  { files: ['test/**/*.ts', 'bench/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },

  // The domain is the centre: it owns its rules and its ports, and imports no adapter.
  ...boundary(
    'domain',
    ['agent', 'auth', 'cli', 'cluster', 'config', 'persistence', 'protocol', 'scheduler', 'server'],
    'the domain imports no adapter; persistence implements the ports the domain defines',
  ),
  // The protocol layer (HTTP adapters) calls the domain; it never reaches the store or the composition root.
  ...boundary(
    'protocol',
    ['agent', 'cli', 'cluster', 'persistence', 'scheduler', 'server'],
    'the protocol layer depends on the domain, not on stores, the control plane or the composition root',
  ),
  // The agent API is the control plane's adapter (as protocol/batch is the Batch domain's), so it may
  // call src/cluster. Its wire types still partly live in src/agent/runTask.ts (to move to a wire/ module
  // both ends import, issue 10 item 6); nothing else of the agent.
  ...boundary(
    'protocol/agent',
    ['agent/(?!runTask\\.js$)', 'cli', 'persistence', 'protocol/batch', 'protocol/blob', 'scheduler', 'server'],
    'the agent API adapts the control plane to the wire, and imports no store or other API',
  ),
  // Persistence implements the domain's ports and knows nothing of who calls it.
  ...boundary('persistence', ['agent', 'cli', 'cluster', 'protocol', 'scheduler', 'server'], 'persistence implements the domain’s ports and imports nothing outward'),
  // The agent runs on other machines: it shares the agent wire messages, auth and the domain's pure
  // helpers (job directory names, FailureInfo), nothing server-side.
  ...boundary(
    'agent',
    ['cli', 'cluster', 'persistence', 'protocol/batch', 'protocol/blob', 'scheduler', 'server'],
    'the node agent runs on other machines and shares only wire messages, auth and pure domain helpers',
  ),
  // Authentication is used by every adapter; it depends on accounts and the domain only.
  ...boundary('auth', ['agent', 'cli', 'cluster', 'persistence', 'protocol', 'scheduler', 'server'], 'auth is shared by every adapter and depends only on config and the domain'),
  // The control plane depends on the domain; the APIs and the composition root depend on it, not back.
  ...['cluster', 'scheduler'].flatMap((dir) =>
    boundary(dir, ['cli', 'protocol/batch', 'protocol/blob', 'protocol/http', 'server'], 'the control plane depends on the domain; the APIs and the composition root depend on it'),
  ),
);
