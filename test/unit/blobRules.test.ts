import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkReadConditions, checkSourceConditions, checkWriteConditions, hasConditions, type Conditions } from '../../src/domain/blob/conditions.js';
import { errors } from '../../src/domain/blob/errors.js';
import { validateBlobName, validateContainerName, validateMetadata } from '../../src/domain/blob/names.js';
import { resolveRange } from '../../src/domain/blob/range.js';
import { refusal } from './helpers.js';

const ETAG = '"0x8D1234"';
const MODIFIED = Date.parse('2030-01-01T10:00:00.500Z');
const blob = { etag: ETAG, lastModified: MODIFIED };
const read = (c: Conditions) => () => checkReadConditions(blob, c);
const write = (c: Conditions) => () => checkWriteConditions(blob, c);

describe('Blob conditional headers', () => {
  it('If-Match: the ETag, quoted or not, in a list, weak, or *; otherwise 412', () => {
    for (const ifMatch of [ETAG, '0x8D1234', `"x", ${ETAG}`, '*', `W/${ETAG}`]) {
      read({ ifMatch })();
      write({ ifMatch })();
    }
    assert.throws(read({ ifMatch: '"0x8D9999"' }), refusal(412, 'ConditionNotMet'));
    assert.throws(write({ ifMatch: '"0x8D9999"' }), refusal(412, 'ConditionNotMet'));
  });

  it('If-None-Match on a read is 304 when it matches; on a write 412, but * on an existing blob is 409', () => {
    read({ ifNoneMatch: '"other"' })();
    assert.throws(read({ ifNoneMatch: ETAG }), refusal(304, 'ConditionNotMet'));
    assert.throws(read({ ifNoneMatch: '*' }), refusal(304, 'ConditionNotMet'));
    assert.throws(write({ ifNoneMatch: ETAG }), refusal(412, 'ConditionNotMet'));
    assert.throws(write({ ifNoneMatch: ' * ' }), refusal(409, 'BlobAlreadyExists'));
    assert.throws(() => checkWriteConditions(blob, { ifNoneMatch: '*' }, errors.containerAlreadyExists), refusal(409, 'ContainerAlreadyExists'));
  });

  it('dates compare in whole seconds, as Last-Modified travels', () => {
    const sameSecond = Date.parse('2030-01-01T10:00:00.000Z');
    const before = sameSecond - 1000;
    // Not modified since the same second (its milliseconds do not count): 304 on a read, 412 on a write.
    assert.throws(read({ ifModifiedSince: sameSecond }), refusal(304, 'ConditionNotMet'));
    assert.throws(write({ ifModifiedSince: sameSecond }), refusal(412, 'ConditionNotMet'));
    read({ ifModifiedSince: before })();
    write({ ifModifiedSince: before })();
    // Unmodified since the same second holds; since a second before does not.
    read({ ifUnmodifiedSince: sameSecond })();
    write({ ifUnmodifiedSince: sameSecond })();
    assert.throws(read({ ifUnmodifiedSince: before }), refusal(412, 'ConditionNotMet'));
    assert.throws(write({ ifUnmodifiedSince: before }), refusal(412, 'ConditionNotMet'));
  });

  it('a read checks the 412 conditions before the 304 ones', () => {
    assert.throws(read({ ifMatch: '"nope"', ifNoneMatch: ETAG }), refusal(412, 'ConditionNotMet'));
  });

  it('a write to a blob that does not exist fails only If-Match', () => {
    checkWriteConditions(undefined, { ifNoneMatch: '*', ifModifiedSince: MODIFIED, ifUnmodifiedSince: 0 });
    assert.throws(() => checkWriteConditions(undefined, { ifMatch: '*' }), refusal(412, 'ConditionNotMet'));
  });

  it("a copy's source conditions fail as SourceConditionNotMet", () => {
    checkSourceConditions(blob, { ifMatch: ETAG });
    assert.throws(() => checkSourceConditions(blob, { ifMatch: '"nope"' }), refusal(412, 'SourceConditionNotMet'));
    assert.throws(() => checkSourceConditions(blob, { ifNoneMatch: '*' }), refusal(412, 'SourceConditionNotMet'));
  });

  it('hasConditions tells whether any header was given', () => {
    assert.equal(hasConditions({}), false);
    for (const c of [{ ifMatch: '*' }, { ifNoneMatch: '*' }, { ifModifiedSince: 0 }, { ifUnmodifiedSince: 0 }]) assert.equal(hasConditions(c), true);
  });
});

describe('Blob names and metadata', () => {
  it('container names: 3 to 63 lower-case letters, digits and single inner hyphens; the special ones', () => {
    for (const name of ['abc', 'a-b-c', '1ab', 'x'.repeat(63), '$root', '$logs', '$web']) validateContainerName(name);
    for (const name of ['ab', 'x'.repeat(64)]) assert.throws(() => validateContainerName(name), refusal(400, 'OutOfRangeInput'), name);
    for (const name of ['Abc', 'a--b', '-ab', 'ab-', 'a_b', 'a.b', '$other']) assert.throws(() => validateContainerName(name), refusal(400, 'InvalidResourceName'), name);
  });

  it('blob names: 1 to 1024 characters', () => {
    validateBlobName('a');
    validateBlobName('x'.repeat(1024));
    validateBlobName('dir/sub dir/ünïcode?.txt');
    for (const name of ['', 'x'.repeat(1025)]) assert.throws(() => validateBlobName(name), refusal(400, 'OutOfRangeInput'));
  });

  it('metadata names are C# identifiers unique without case; all of it within 8 KiB', () => {
    validateMetadata({ a: '1', _b2: '', Camel_Case: 'x' });
    const invalid: Record<string, string>[] = [{ '1a': 'x' }, { 'a-b': 'x' }, { '': 'x' }, { name: 'x', NAME: 'y' }];
    for (const bad of invalid) {
      assert.throws(() => validateMetadata(bad), refusal(400, 'InvalidMetadata'), JSON.stringify(bad));
    }
    validateMetadata({ k: 'v'.repeat(8 * 1024 - 1) });
    assert.throws(() => validateMetadata({ k: 'v'.repeat(8 * 1024) }), refusal(400, 'MetadataTooLarge'));
  });
});

describe('Range header', () => {
  it('resolves against the size: open ends clamp, unparsable headers are ignored, a start past the end is 416', () => {
    assert.equal(resolveRange(undefined, 10), undefined);
    assert.deepEqual(resolveRange('bytes=0-', 10), { start: 0, end: 9 });
    assert.deepEqual(resolveRange('bytes=2-5', 10), { start: 2, end: 5 });
    assert.deepEqual(resolveRange(' bytes=5-100 ', 10), { start: 5, end: 9 });
    assert.equal(resolveRange('bytes=None-', 10), undefined);
    assert.equal(resolveRange('bytes=5-2', 10), undefined);
    assert.equal(resolveRange('items=0-1', 10), undefined);
    assert.throws(() => resolveRange('bytes=10-', 10), refusal(416, 'InvalidRange'));
    assert.throws(() => resolveRange('bytes=0-0', 0), refusal(416, 'InvalidRange'));
  });
});
