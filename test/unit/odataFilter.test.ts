import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFilter, ENTITY_FIELDS, MAX_FILTER_DEPTH, parseFilter, type FilterFields } from '../../src/protocol/batch/odata/filter.js';
import { detail, refusal, thrown } from './helpers.js';

const FIELDS: FilterFields = {
  ...ENTITY_FIELDS,
  displayName: { type: 'string' },
  priority: { type: 'number' },
  usesTaskDependencies: { type: 'boolean' },
  'executionInfo/exitCode': { type: 'number' },
  'nodeInfo/poolId': { type: 'id' },
};

const docs = [
  { id: 'Task-1', state: 'active', creationTime: '2030-01-01T00:00:00.000Z', displayName: 'Alpha', priority: 5, usesTaskDependencies: true, executionInfo: { exitCode: 0 } },
  {
    id: 'task-2',
    state: 'completed',
    creationTime: '2030-01-02T00:00:00.000Z',
    displayName: 'alpha',
    priority: 0,
    usesTaskDependencies: false,
    executionInfo: { exitCode: 3 },
    nodeInfo: { poolId: 'PoolA' },
  },
  { id: 'other', state: 'running', creationTime: '2030-01-03T00:00:00.000Z', priority: -5, executionInfo: {} },
];

/** The ids of the documents a filter keeps. */
const ids = (text: string): string[] => {
  const { matches } = compileFilter(text, FIELDS);
  return docs.filter((d) => matches(d)).map((d) => d.id);
};

/** The reason a $filter is refused with (400 InvalidQueryParameterValue). */
const reason = (fn: () => unknown): string => {
  const err = thrown(fn);
  refusal(400, 'InvalidQueryParameterValue')(err);
  assert.equal(detail(err, 'QueryParameterName'), '$filter');
  return detail(err, 'Reason')!;
};

describe('$filter parsing', () => {
  it('builds comparisons, startswith, not, and and or with and binding tighter', () => {
    assert.deepEqual(parseFilter("state eq 'active'"), { kind: 'cmp', path: 'state', op: 'eq', value: 'active' });
    assert.deepEqual(parseFilter('a eq 1 or b eq 2 and c eq 3'), {
      kind: 'or',
      left: { kind: 'cmp', path: 'a', op: 'eq', value: 1 },
      right: { kind: 'and', left: { kind: 'cmp', path: 'b', op: 'eq', value: 2 }, right: { kind: 'cmp', path: 'c', op: 'eq', value: 3 } },
    });
    assert.deepEqual(parseFilter('(a eq 1 or b eq 2) and c eq 3').kind, 'and');
    assert.deepEqual(parseFilter("not startswith(id,'x')"), { kind: 'not', inner: { kind: 'startswith', path: 'id', prefix: 'x' } });
    assert.deepEqual(parseFilter("startswith(id,'x') eq true"), { kind: 'startswith', path: 'id', prefix: 'x' });
    assert.deepEqual(parseFilter("startswith(id,'x') eq false"), { kind: 'not', inner: { kind: 'startswith', path: 'id', prefix: 'x' } });
    assert.deepEqual(parseFilter("startswith(id,'x') ne true"), { kind: 'not', inner: { kind: 'startswith', path: 'id', prefix: 'x' } });
  });

  it('reads literals: quoted strings with doubled quotes, numbers, booleans, null, datetime', () => {
    const value = (text: string) => (parseFilter(`x eq ${text}`) as { value: unknown }).value;
    assert.equal(value("'it''s'"), "it's");
    assert.equal(value("''"), '');
    assert.equal(value('-12'), -12);
    assert.equal(value('1.5'), 1.5);
    assert.equal(value('TRUE'), true);
    assert.equal(value('false'), false);
    assert.equal(value('null'), null);
    assert.deepEqual(value("datetime'2030-01-01T00:00:00Z'"), { datetime: '2030-01-01T00:00:00Z' });
    assert.deepEqual(parseFilter('executionInfo/exitCode GT 0'), { kind: 'cmp', path: 'executionInfo/exitCode', op: 'gt', value: 0 });
  });

  it('refuses what is not a filter, saying why', () => {
    assert.match(
      reason(() => parseFilter("id eq 'open")),
      /not closed/,
    );
    assert.match(
      reason(() => parseFilter("creationTime gt datetime'2030")),
      /not closed/,
    );
    assert.match(
      reason(() => parseFilter("creationTime gt datetime'yesterday'")),
      /not a date-time/,
    );
    assert.match(
      reason(() => parseFilter("id 'x'")),
      /Expected an operator/,
    );
    assert.match(
      reason(() => parseFilter('id eq')),
      /value is missing/,
    );
    assert.match(
      reason(() => parseFilter('id eq state')),
      /Expected a value/,
    );
    assert.match(
      reason(() => parseFilter("id eq 'x' state eq 'y'")),
      /after the expression/,
    );
    assert.match(
      reason(() => parseFilter("(id eq 'x'")),
      /Expected '\)'/,
    );
    assert.match(
      reason(() => parseFilter("id eq 'x' and")),
      /property name/,
    );
    assert.match(
      reason(() => parseFilter('id eq #')),
      /Unexpected '#'/,
    );
    assert.match(
      reason(() => parseFilter('startswith(id,3)')),
      /needs a string/,
    );
    assert.match(
      reason(() => parseFilter("startswith('x','y')")),
      /needs a property name/,
    );
    assert.match(
      reason(() => parseFilter("startswith(id,'x') eq 1")),
      /true or false/,
    );
    assert.match(
      reason(() => parseFilter('')),
      /property name/,
    );
  });

  it(`bounds nesting at ${MAX_FILTER_DEPTH} (no stack overflow), and accepts that depth`, () => {
    const nest = (n: number) => `${'('.repeat(n)}id eq 'x'${')'.repeat(n)}`;
    assert.equal(parseFilter(nest(MAX_FILTER_DEPTH)).kind, 'cmp');
    assert.match(
      reason(() => parseFilter(nest(MAX_FILTER_DEPTH + 1))),
      /nest more than/,
    );
    assert.match(
      reason(() => parseFilter(`${'not '.repeat(MAX_FILTER_DEPTH + 1)}id eq 'x'`)),
      /nest more than/,
    );
    assert.match(
      reason(() => parseFilter(`${'('.repeat(100_000)}`)),
      /nest more than/,
    );
  });
});

describe('$filter evaluation on documents', () => {
  it('ids and enums compare without case; strings with case', () => {
    assert.deepEqual(ids("id eq 'task-1'"), ['Task-1']);
    assert.deepEqual(ids("state eq 'ACTIVE'"), ['Task-1']);
    assert.deepEqual(ids("displayName eq 'alpha'"), ['task-2']);
    assert.deepEqual(ids("startswith(id,'TASK')"), ['Task-1', 'task-2']);
    assert.deepEqual(ids("startswith(displayName,'al')"), ['task-2']);
    assert.deepEqual(ids("nodeInfo/poolId eq 'poola'"), ['task-2']);
  });

  it('orders numbers and date-times; a missing value is null, matched only by eq null and ne', () => {
    assert.deepEqual(ids('priority gt 0'), ['Task-1']);
    assert.deepEqual(ids('priority ge 0'), ['Task-1', 'task-2']);
    assert.deepEqual(ids('priority lt 0'), ['other']);
    assert.deepEqual(ids('priority le -5'), ['other']);
    assert.deepEqual(ids('executionInfo/exitCode ne 0'), ['task-2', 'other']);
    assert.deepEqual(ids('executionInfo/exitCode gt -1'), ['Task-1', 'task-2']);
    assert.deepEqual(ids('executionInfo/exitCode eq null'), ['other']);
    assert.deepEqual(ids('displayName ne null'), ['Task-1', 'task-2']);
    assert.deepEqual(ids("creationTime gt datetime'2030-01-01T12:00:00Z'"), ['task-2', 'other']);
    // A date-time written as a string, with an offset, compares as the instant it names.
    assert.deepEqual(ids("creationTime le '2030-01-02T01:00:00+01:00'"), ['Task-1', 'task-2']);
    assert.deepEqual(ids('usesTaskDependencies eq true'), ['Task-1']);
  });

  it('combines with and, or, not and parentheses', () => {
    assert.deepEqual(ids("state eq 'active' or state eq 'running'"), ['Task-1', 'other']);
    assert.deepEqual(ids("startswith(id,'task') and priority eq 0"), ['task-2']);
    assert.deepEqual(ids("not (state eq 'active')"), ['task-2', 'other']);
    assert.deepEqual(ids("state eq 'running' or state eq 'active' and priority eq 0"), ['other']);
    assert.deepEqual(ids("(state eq 'running' or state eq 'active') and priority eq 5"), ['Task-1']);
  });

  it('refuses a property the list does not filter on, and a literal of the wrong type', () => {
    assert.match(
      reason(() => compileFilter("color eq 'red'", FIELDS)),
      /'color' cannot be filtered/,
    );
    assert.match(
      reason(() => compileFilter("constructor eq 'x'", FIELDS)),
      /cannot be filtered/,
    );
    assert.match(
      reason(() => compileFilter("priority eq 'high'", FIELDS)),
      /compares with a number/,
    );
    assert.match(
      reason(() => compileFilter("usesTaskDependencies eq 'yes'", FIELDS)),
      /true or false/,
    );
    assert.match(
      reason(() => compileFilter('id eq 3', FIELDS)),
      /compares with a string/,
    );
    assert.match(
      reason(() => compileFilter("id eq datetime'2030-01-01T00:00:00Z'", FIELDS)),
      /does not compare with a date-time/,
    );
    assert.match(
      reason(() => compileFilter("creationTime gt 'soon'", FIELDS)),
      /compares with a date-time/,
    );
  });

  it('names properties without case', () => {
    assert.deepEqual(ids("STATE eq 'active'"), ['Task-1']);
  });
});
