import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { newJobDoc } from '../../src/domain/batch/jobs/addJob.js';
import type { Condition } from '../../src/domain/batch/listQuery.js';
import { sqliteCondition } from '../../src/persistence/batch/sqliteCondition.js';
import { JOB_FIELDS } from '../../src/protocol/batch/handlers/jobs.js';
import { compileFilter, ENTITY_FIELDS, MAX_STORE_TERMS, type FilterFields } from '../../src/protocol/batch/odata/filter.js';
import { iso, MIN, unitBatch } from './helpers.js';

const FIELDS: FilterFields = { ...ENTITY_FIELDS, displayName: { type: 'string' }, 'executionInfo/poolId': { type: 'id', column: 'pool_id' } };

/** The store condition a $filter becomes (undefined: filtered on the documents). */
const where = (text: string): Condition | undefined => compileFilter(text, FIELDS).where;
/** The SQLite text and parameters a $filter becomes. */
const sql = (text: string) => {
  const w = where(text);
  assert.ok(w, `${text} is answered by the store`);
  return sqliteCondition(w);
};

describe('$filter → store condition', () => {
  it('compares columns with lower-cased ids and enums, ISO date-times, and strings as written', () => {
    assert.deepEqual(where("id eq 'Task-1'"), { kind: 'cmp', column: 'id_key', op: 'eq', value: 'task-1' });
    assert.deepEqual(where("STATE ne 'Active'"), { kind: 'cmp', column: 'state', op: 'ne', value: 'active' });
    assert.deepEqual(where("creationTime ge datetime'2030-01-01T01:00:00+01:00'"), { kind: 'cmp', column: 'creation_time', op: 'ge', value: '2030-01-01T00:00:00.000Z' });
    assert.deepEqual(where("executionInfo/poolId lt 'PoolB'"), { kind: 'cmp', column: 'pool_id', op: 'lt', value: 'poolb' });
  });

  it('turns startswith into a prefix, null into null tests, and keeps not/and/or nesting', () => {
    assert.deepEqual(where("startswith(id,'AB')"), { kind: 'prefix', column: 'id_key', prefix: 'ab' });
    assert.deepEqual(where('state eq null'), { kind: 'null', column: 'state', negated: false });
    assert.deepEqual(where('state ne null'), { kind: 'null', column: 'state', negated: true });
    // Nothing orders against null, on the documents as in the store.
    assert.deepEqual(where('lastModified gt null'), { kind: 'or', terms: [] });
    assert.deepEqual(where("not (id eq 'a') or state eq 'b' and startswith(id,'c')"), {
      kind: 'or',
      terms: [
        { kind: 'not', inner: { kind: 'cmp', column: 'id_key', op: 'eq', value: 'a' } },
        {
          kind: 'and',
          terms: [
            { kind: 'cmp', column: 'state', op: 'eq', value: 'b' },
            { kind: 'prefix', column: 'id_key', prefix: 'c' },
          ],
        },
      ],
    });
  });

  it('leaves to the documents what has no column, and filters past the term limit', () => {
    assert.equal(where("displayName eq 'x'"), undefined);
    assert.equal(where("id eq 'a' and displayName eq 'x'"), undefined);
    assert.equal(where("not (displayName eq 'x')"), undefined);
    assert.equal(where("startswith(state,'a')"), undefined, 'a prefix only on id keys: other columns keep their case');
    const terms = (n: number) => Array.from({ length: n }, (_, i) => `id eq 't${i}'`).join(' or ');
    assert.ok(where(terms(MAX_STORE_TERMS)));
    const big = compileFilter(terms(MAX_STORE_TERMS + 1), FIELDS);
    assert.equal(big.where, undefined);
    assert.equal(big.matches({ id: 'T200' }), true, 'still answered, on the documents');
    assert.equal(big.matches({ id: 't201' }), false);
  });
});

describe('store condition → SQLite', () => {
  it('compiles each operator to a placeholder, ne including NULL', () => {
    assert.deepEqual(sql("id eq 'Task-1'"), { sql: 'id_key = ?', params: ['task-1'] });
    assert.deepEqual(sql("state ne 'active'"), { sql: '(state != ? OR state IS NULL)', params: ['active'] });
    for (const [op, text] of [
      ['gt', '>'],
      ['ge', '>='],
      ['lt', '<'],
      ['le', '<='],
    ] as const) {
      assert.deepEqual(sql(`creationTime ${op} datetime'2030-01-01T00:00:00Z'`), { sql: `creation_time ${text} ?`, params: ['2030-01-01T00:00:00.000Z'] });
    }
    assert.deepEqual(sqliteCondition({ kind: 'cmp', column: 'schedule_pk', op: 'eq', value: 7 }), { sql: 'schedule_pk = ?', params: [7] });
  });

  it('compiles null tests, a prefix as a range, and not/and/or with parentheses', () => {
    assert.deepEqual(sql('state eq null'), { sql: 'state IS NULL', params: [] });
    assert.deepEqual(sql('state ne null'), { sql: 'state IS NOT NULL', params: [] });
    assert.deepEqual(sql("startswith(id,'AB')"), { sql: 'id_key >= ? AND id_key < ?', params: ['ab', 'ab\u{10FFFF}'] });
    // not is `IS NOT TRUE`: SQL's NOT would leave a NULL comparison unknown, and drop the row.
    assert.deepEqual(sql("not (id eq 'a') or state eq 'b'"), { sql: '((id_key = ?) IS NOT TRUE) OR (state = ?)', params: ['a', 'b'] });
    assert.deepEqual(sql("not (startswith(id,'x') and (state eq 'b' or state ne 'c'))"), {
      sql: '((id_key >= ? AND id_key < ?) AND ((state = ?) OR ((state != ? OR state IS NULL)))) IS NOT TRUE',
      params: ['x', 'x\u{10FFFF}', 'b', 'c'],
    });
    assert.deepEqual(sqliteCondition({ kind: 'and', terms: [] }), { sql: '1', params: [] });
    assert.deepEqual(sqliteCondition({ kind: 'or', terms: [] }), { sql: '0', params: [] });
  });

  it('puts only the port’s column names into SQL text', () => {
    const forged = { kind: 'null', column: 'state; DROP TABLE batch_jobs', negated: false } as unknown as Condition;
    assert.throws(() => sqliteCondition(forged), /not a list column/);
  });
});

describe('the store answers a condition as the documents do', () => {
  const batch = unitBatch();
  after(() => batch.close());

  it('agrees with the in-memory filter on every form, NULL columns included', async () => {
    const ctx = batch.ctx();
    const specs: [string, string | undefined, string, number][] = [
      ['Alpha', 'Pool-A', 'active', 0],
      ['alpine', undefined, 'completed', 1],
      ['Beta', 'pool-b', 'disabled', 2],
      ['gamma', 'POOL-A', 'active', 3],
      ['delta', undefined, 'terminating', 4],
    ];
    const docs = specs.map(([id, poolId, state, minutes]) => {
      const doc = newJobDoc(ctx, id, { poolInfo: poolId ? { poolId } : {} });
      Object.assign(doc, { state, stateTransitionTime: iso(minutes * MIN) });
      return doc;
    });
    for (const doc of docs) await batch.store.jobs.insert(ctx.account, doc);
    const filters = [
      "executionInfo/poolId eq 'pool-a'",
      "executionInfo/poolId ne 'pool-a'",
      'executionInfo/poolId eq null',
      'executionInfo/poolId ne null',
      "executionInfo/poolId gt 'pool-a'",
      'executionInfo/poolId gt null',
      "startswith(id,'AL')",
      "not startswith(id,'al') and state ne 'active'",
      "state eq 'active' or stateTransitionTime ge datetime'" + iso(3 * MIN) + "'",
      "not (state eq 'completed' or executionInfo/poolId le 'pool-a')",
      "not (executionInfo/poolId eq 'pool-a')",
      "not startswith(executionInfo/poolId,'pool')",
    ];
    const documents = docs as unknown as Record<string, unknown>[];
    for (const text of filters) {
      const compiled = compileFilter(text, JOB_FIELDS);
      assert.ok(compiled.where, `${text} is answered by the store`);
      const fromStore = (await batch.store.jobs.list(ctx.account, { where: compiled.where, limit: 100 })).map((r) => r.id);
      const fromDocs = documents
        .filter((d) => compiled.matches(d))
        .map((d) => d['id'] as string)
        .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
      assert.deepEqual(fromStore, fromDocs, text);
    }
    // The filters above are not all trivially empty or full.
    const count = async (text: string) => (await batch.store.jobs.list(ctx.account, { where: compileFilter(text, JOB_FIELDS).where, limit: 100 })).length;
    assert.equal(await count("executionInfo/poolId ne 'pool-a'"), 3);
    assert.equal(await count('executionInfo/poolId gt null'), 0);
    assert.equal(await count("not (executionInfo/poolId eq 'pool-a')"), 3, 'the jobs without a pool are not equal to one');
  });
});
