import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { NodeTokenStore } from '../../src/agent/nodeTokenStore.js';

// What a remote agent keeps to rejoin as the same node after a restart: its node root's last token,
// for the server and pool it served, in a directory that is root's alone.
describe('the node token an agent keeps', () => {
  it('comes back for the same root, server and pool only, and is gone once forgotten', () => {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-tokens-')), 'agents');
    try {
      const kept = new NodeTokenStore('/mnt/batch/tasks', 'http://server:10100', 'Pool-A', dir);
      assert.equal(kept.load(), undefined);
      kept.save('acct.pool-a.tvm-1.secret1');
      kept.save('acct.pool-a.tvm-1.secret2');
      assert.equal(new NodeTokenStore('/mnt/batch/tasks/', 'http://server:10100', 'pool-a', dir).load(), 'acct.pool-a.tvm-1.secret2', 'the last one');
      assert.equal(new NodeTokenStore('/mnt/other', 'http://server:10100', 'pool-a', dir).load(), undefined, 'another root');
      assert.equal(new NodeTokenStore('/mnt/batch/tasks', 'http://other:10100', 'pool-a', dir).load(), undefined, 'another server');
      assert.equal(new NodeTokenStore('/mnt/batch/tasks', 'http://server:10100', 'pool-b', dir).load(), undefined, 'another pool');
      assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
      assert.deepEqual(
        fs.readdirSync(dir).map((name) => fs.statSync(path.join(dir, name)).mode & 0o777),
        [0o600],
        'one file, never left half written beside it',
      );
      kept.forget();
      assert.equal(kept.load(), undefined);
    } finally {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
