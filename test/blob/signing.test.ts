/**
 * Unit tests of src/auth against the vectors of shared/docs/blob-api.md §4 (Shared Key) and §5 (SAS).
 * Every expected signature below was captured from a real client and recomputed byte for byte.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hmacSha256, signatureMatches } from '../../src/auth/hmac.js';
import { accountSasStringToSign, serviceSasStringToSign, verifySas, type SasRequest } from '../../src/auth/sas.js';
import { blobStringsToSign, MAX_CLOCK_SKEW_MS, parseSharedKeyHeader, requestDateProblem, verifySharedKey, type SignedRequest } from '../../src/auth/sharedKey.js';
import { devAccount } from '../../src/config/accounts.js';
import { StorageError } from '../../src/domain/blob/errors.js';

const account = devAccount();
const sign = (stringToSign: string): string => hmacSha256(account.key, stringToSign).toString('base64');
const params = (entries: Record<string, string>) => new Map(Object.entries(entries));

describe('Shared Key (blob-api.md §4)', () => {
  // JS 12.32.0 `upload("hello world")` with metadata foo=bar and content type text/plain.
  const msHeaders: [string, string][] = [
    // The order Node hands them over in, not the signing order: the verifier must sort them.
    ['x-ms-version', '2026-04-06'],
    ['x-ms-meta-foo', 'bar'],
    ['x-ms-date', 'Tue, 24 Nov 2026 06:41:11 GMT'],
    ['x-ms-blob-type', 'BlockBlob'],
    ['x-ms-client-request-id', 'f5d4d92d-b8eb-43d7-b08a-f635884f9e06'],
    ['x-ms-blob-content-type', 'text/plain'],
  ];
  const standard: Record<string, string> = { 'content-length': '11', 'content-type': 'application/octet-stream' };
  const jsUpload: SignedRequest = {
    method: 'PUT',
    rawPath: '/devstoreaccount1/cap-js/dir/a%20b%2B%C3%BC.txt',
    query: [],
    header: (name) => standard[name],
    msHeaders,
  };
  const expectedString = [
    'PUT',
    '',
    '',
    '11',
    '',
    'application/octet-stream',
    '',
    '',
    '',
    '',
    '',
    '',
    'x-ms-blob-content-type:text/plain',
    'x-ms-blob-type:BlockBlob',
    'x-ms-client-request-id:f5d4d92d-b8eb-43d7-b08a-f635884f9e06',
    'x-ms-date:Tue, 24 Nov 2026 06:41:11 GMT',
    'x-ms-meta-foo:bar',
    'x-ms-version:2026-04-06',
    '/devstoreaccount1/devstoreaccount1/cap-js/dir/a%20b%2B%C3%BC.txt',
  ].join('\n');
  const capturedSignature = '6M1L1xqILQ3wIpNdz1ErlT1O93EN3cnnBp0Ny6zbDTU=';

  test('the first candidate string to sign is the documented 19 lines', () => {
    const strings = blobStringsToSign(account.name, jsUpload);
    assert.equal(strings[0], expectedString);
    assert.equal(sign(strings[0]!), capturedSignature);
  });

  test('verifySharedKey accepts the captured signature and refuses a changed one', () => {
    assert.deepEqual(verifySharedKey(account, capturedSignature, blobStringsToSign(account.name, jsUpload)), { ok: true });
    const tampered = `A${capturedSignature.slice(1)}`;
    const result = verifySharedKey(account, tampered, blobStringsToSign(account.name, jsUpload));
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.stringToSign, expectedString);
  });

  test('the signature covers the body length, the path and the x-ms headers', () => {
    const variants: SignedRequest[] = [
      { ...jsUpload, header: (name) => ({ ...standard, 'content-length': '12' })[name] },
      { ...jsUpload, rawPath: '/devstoreaccount1/cap-js/dir/a%20b+%C3%BC.txt' },
      { ...jsUpload, msHeaders: msHeaders.map(([n, v]): [string, string] => [n, n === 'x-ms-meta-foo' ? 'baz' : v]) },
      { ...jsUpload, method: 'POST' },
    ];
    for (const variant of variants) {
      assert.equal(verifySharedKey(account, capturedSignature, blobStringsToSign(account.name, variant)).ok, false);
    }
  });

  test('Content-Length 0 signs as an empty line; query parameters are lower-cased, sorted and decoded', () => {
    const req: SignedRequest = {
      method: 'GET',
      rawPath: '/devstoreaccount1/c1',
      query: [
        ['restype', 'container'],
        ['comp', 'list'],
        ['Prefix', 'a b'],
        ['include', 'metadata'],
        ['include', 'copy'],
      ],
      header: (name) => (name === 'content-length' ? '0' : undefined),
      msHeaders: [['x-ms-version', '2026-04-06']],
    };
    const [first] = blobStringsToSign(account.name, req);
    assert.equal(
      first,
      `GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-version:2026-04-06\n/devstoreaccount1/devstoreaccount1/c1\ncomp:list\ninclude:copy,metadata\nprefix:a b\nrestype:container`,
    );
  });

  test('clients that sort headers in code-point order or leave empty query values unsigned still verify', () => {
    // Legacy SDK: plain code-point order puts x-ms-meta-a1 before x-ms-meta-a_c; JS/Python put a_c first.
    const req: SignedRequest = {
      method: 'GET',
      rawPath: '/devstoreaccount1/c1',
      query: [
        ['restype', 'container'],
        ['comp', 'list'],
        ['prefix', ''],
      ],
      header: () => undefined,
      msHeaders: [
        ['x-ms-meta-a_c', '1'],
        ['x-ms-meta-a1', '2'],
        ['x-ms-version', '2015-04-05'],
      ],
    };
    const legacy = `GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-meta-a1:2\nx-ms-meta-a_c:1\nx-ms-version:2015-04-05\n/devstoreaccount1/devstoreaccount1/c1\ncomp:list\nrestype:container`;
    assert.notEqual(blobStringsToSign(account.name, req)[0], legacy);
    assert.deepEqual(verifySharedKey(account, sign(legacy), blobStringsToSign(account.name, req)), { ok: true });
  });

  test('requestDateProblem: x-ms-date (else Date) must be within 15 minutes of the server clock', () => {
    const now = Date.parse('Tue, 24 Nov 2026 06:41:11 GMT');
    const at = (headers: Record<string, string>) => ({ header: (name: string) => headers[name] });
    assert.equal(requestDateProblem(at({ 'x-ms-date': 'Tue, 24 Nov 2026 06:41:11 GMT' }), now), undefined);
    assert.equal(requestDateProblem(at({ 'x-ms-date': 'Tue, 24 Nov 2026 06:26:11 GMT' }), now), undefined);
    assert.equal(requestDateProblem(at({ date: 'Tue, 24 Nov 2026 06:56:11 GMT' }), now), undefined);
    assert.match(requestDateProblem(at({ 'x-ms-date': 'Tue, 24 Nov 2026 06:26:10 GMT' }), now)!, /too old/);
    assert.match(requestDateProblem(at({ 'x-ms-date': 'Tue, 24 Nov 2026 06:56:12 GMT' }), now)!, /future/);
    // x-ms-date wins over Date.
    assert.match(requestDateProblem(at({ 'x-ms-date': 'Tue, 24 Nov 2026 05:00:00 GMT', date: 'Tue, 24 Nov 2026 06:41:11 GMT' }), now)!, /too old/);
    assert.match(requestDateProblem(at({}), now)!, /not specified/);
    assert.match(requestDateProblem(at({ 'x-ms-date': 'yesterday' }), now)!, /not a valid date/);
    assert.equal(MAX_CLOCK_SKEW_MS, 15 * 60 * 1000);
  });

  test('parseSharedKeyHeader', () => {
    assert.deepEqual(parseSharedKeyHeader(`SharedKey devstoreaccount1:${capturedSignature}`), {
      account: 'devstoreaccount1',
      signature: capturedSignature,
    });
    assert.equal(parseSharedKeyHeader(`SharedKeyLite devstoreaccount1:${capturedSignature}`), undefined);
    assert.equal(parseSharedKeyHeader('Bearer abc'), undefined);
  });

  test('signatureMatches refuses signatures of another length', () => {
    const expected = hmacSha256(account.key, 'x');
    assert.equal(signatureMatches(expected, expected.toString('base64')), true);
    assert.equal(signatureMatches(expected, expected.subarray(1).toString('base64')), false);
    assert.equal(signatureMatches(expected, ''), false);
  });
});

describe('service SAS string to sign (blob-api.md §5)', () => {
  test('JS 12.32 blob SAS, sv=2026-04-06 (16 lines)', () => {
    const p = params({ sv: '2026-04-06', se: '2026-11-24T07:41:11Z', sr: 'b', sp: 'r' });
    const s = serviceSasStringToSign(p, '/blob/devstoreaccount1/cap-js/dir/a b+ü.txt');
    assert.equal(s, ['r', '', '2026-11-24T07:41:11Z', '/blob/devstoreaccount1/cap-js/dir/a b+ü.txt', '', '', '', '2026-04-06', 'b', '', '', '', '', '', '', ''].join('\n'));
    assert.equal(s.split('\n').length, 16);
    assert.equal(sign(s), 'LTMwfUqhkI01g3Ezdd6zo2isD7CrDDgkk1q6r/fqwrs=');
  });

  test('Python v12 container SAS, sv=2021-12-02 (16 lines)', () => {
    const p = params({ se: '2026-11-24T07:41:31Z', sp: 'rl', sv: '2021-12-02', sr: 'c' });
    assert.equal(sign(serviceSasStringToSign(p, '/blob/devstoreaccount1/cap-py')), 'ymvHMNf7OsVrvJsMP/1RmhZJQywReMzkt4Y+6OnkKBw=');
  });

  test('legacy v2015_04_05 blob SAS (13 lines, no sr)', () => {
    const p = params({ se: '2026-11-24T07:41:53Z', sp: 'r', sv: '2015-04-05' });
    const s = serviceSasStringToSign(p, '/blob/devstoreaccount1/leg-v2015-04-05/dir/file 1.txt');
    assert.equal(s.split('\n').length, 13);
    assert.equal(sign(s), 'y8xhA0WNq3RK96uNPN8hcB1Q0Farp2wbTkq5UUUvYy8=');
  });

  test('legacy v2018_11_09 blob SAS (15 lines)', () => {
    const p = params({ se: '2026-11-24T07:41:54Z', sp: 'r', sv: '2018-11-09', sr: 'b' });
    const s = serviceSasStringToSign(p, '/blob/devstoreaccount1/leg-v2018-11-09/dir/file 1.txt');
    assert.equal(s.split('\n').length, 15);
    assert.equal(sign(s), 'FWeXmEqFBBFR2m1sIuPTVZMrfjmIrdxE2fuAVGIqdSk=');
  });

  test('the layout follows sv, not the presence of sr (legacy v2017_11_09 sends sr=b, signs 13 lines)', () => {
    const s = serviceSasStringToSign(params({ se: 'X', sp: 'r', sv: '2017-11-09', sr: 'b' }), '/blob/a/c/b');
    assert.equal(s, ['r', '', 'X', '/blob/a/c/b', '', '', '', '2017-11-09', '', '', '', '', ''].join('\n'));
  });

  test('response-header overrides and ses take their documented lines', () => {
    const p = params({ sv: '2026-04-06', se: 'E', sr: 'b', sp: 'r', ses: 'scope', rscc: 'cc', rscd: 'cd', rsce: 'ce', rscl: 'cl', rsct: 'ct' });
    assert.deepEqual(serviceSasStringToSign(p, '/blob/a/c/b').split('\n'), ['r', '', 'E', '/blob/a/c/b', '', '', '', '2026-04-06', 'b', '', 'scope', 'cc', 'cd', 'ce', 'cl', 'ct']);
  });
});

describe('account SAS string to sign (blob-api.md §5)', () => {
  test('JS vector: sp=rwdlc ss=b srt=sco sv=2026-04-06 ends with a newline and includes ses', () => {
    const p = params({ sv: '2026-04-06', ss: 'b', srt: 'sco', se: '2026-11-24T07:41:11Z', sp: 'rwdlc' });
    const s = accountSasStringToSign('devstoreaccount1', p);
    assert.equal(s, 'devstoreaccount1\nrwdlc\nb\nsco\n\n2026-11-24T07:41:11Z\n\n\n2026-04-06\n\n');
    assert.equal(sign(s), 'Y0OKZQ5L/lDUEn5F+IUq5C1yI9dhHPN9PA7EELlfv8w=');
  });

  test('before 2020-12-06 there is no ses line', () => {
    const s = accountSasStringToSign('a', params({ sv: '2019-12-12', ss: 'b', srt: 'o', se: 'E', sp: 'r' }));
    assert.equal(s, 'a\nr\nb\no\n\nE\n\n\n2019-12-12\n');
  });
});

describe('verifySas', () => {
  const jsBlobSas = params({ sv: '2026-04-06', se: '2026-11-24T07:41:11Z', sr: 'b', sp: 'r', sig: 'LTMwfUqhkI01g3Ezdd6zo2isD7CrDDgkk1q6r/fqwrs=' });
  const before = Date.parse('2026-11-24T07:00:00Z');
  const request = (overrides: Partial<SasRequest> = {}): SasRequest => ({
    params: jsBlobSas,
    target: { level: 'blob', container: 'cap-js', blob: 'dir/a b+ü.txt' },
    allowedBy: ['r'],
    protocol: 'http',
    clientIp: '127.0.0.1',
    now: before,
    storedPolicy: () => undefined,
    ...overrides,
  });
  const refusal = (status: number, code: string) => (err: unknown) => {
    assert.ok(err instanceof StorageError, String(err));
    assert.equal(err.status, status);
    assert.equal(err.code, code);
    return true;
  };

  test('the captured JS blob SAS allows a read before its expiry', () => {
    assert.doesNotThrow(() => verifySas(account, request()));
  });

  test('after its expiry it is AuthenticationFailed', () => {
    assert.throws(() => verifySas(account, request({ now: Date.parse('2026-11-24T07:41:12Z') })), refusal(403, 'AuthenticationFailed'));
  });

  test('another blob name, or a changed permission, breaks the signature', () => {
    assert.throws(() => verifySas(account, request({ target: { level: 'blob', container: 'cap-js', blob: 'dir/a b+u.txt' } })), refusal(403, 'AuthenticationFailed'));
    const widened = new Map(jsBlobSas).set('sp', 'rw');
    assert.throws(() => verifySas(account, request({ params: widened, allowedBy: ['w'] })), refusal(403, 'AuthenticationFailed'));
  });

  test('a write with a read-only SAS is AuthorizationPermissionMismatch', () => {
    assert.throws(() => verifySas(account, request({ allowedBy: ['w', 'c'] })), refusal(403, 'AuthorizationPermissionMismatch'));
  });

  test('the captured Python container SAS allows listing its container and reading its blobs', () => {
    const p = params({ se: '2026-11-24T07:41:31Z', sp: 'rl', sv: '2021-12-02', sr: 'c', sig: 'ymvHMNf7OsVrvJsMP/1RmhZJQywReMzkt4Y+6OnkKBw=' });
    assert.doesNotThrow(() => verifySas(account, request({ params: p, target: { level: 'container', container: 'cap-py' }, allowedBy: ['l'] })));
    assert.doesNotThrow(() => verifySas(account, request({ params: p, target: { level: 'blob', container: 'cap-py', blob: 'any/blob' } })));
    assert.throws(
      () => verifySas(account, request({ params: p, target: { level: 'container', container: 'cap-py' }, allowedBy: ['d'] })),
      refusal(403, 'AuthorizationPermissionMismatch'),
    );
  });

  test('an operation no service SAS may do is AuthorizationFailure under a service SAS, not under an account SAS', () => {
    const container = params({ se: '2026-11-24T07:41:31Z', sp: 'rl', sv: '2021-12-02', sr: 'c', sig: 'ymvHMNf7OsVrvJsMP/1RmhZJQywReMzkt4Y+6OnkKBw=' });
    const target = { level: 'container' as const, container: 'cap-py' };
    // Get Container Properties: r under an account SAS, never under a service SAS.
    assert.throws(() => verifySas(account, request({ params: container, target, allowedBy: ['r'], serviceAllowedBy: [] })), refusal(403, 'AuthorizationFailure'));
    const accountSas = params({ sv: '2026-04-06', ss: 'b', srt: 'sco', se: '2026-11-24T07:41:11Z', sp: 'rwdlc', sig: 'Y0OKZQ5L/lDUEn5F+IUq5C1yI9dhHPN9PA7EELlfv8w=' });
    assert.doesNotThrow(() => verifySas(account, request({ params: accountSas, target, allowedBy: ['r'], serviceAllowedBy: [] })));
    // The signature is still checked first.
    const forged = new Map(container).set('sig', 'A'.repeat(43) + '=');
    assert.throws(() => verifySas(account, request({ params: forged, target, allowedBy: ['r'], serviceAllowedBy: [] })), refusal(403, 'AuthenticationFailed'));
  });

  test('the captured legacy SAS (no sr, sv 2015-04-05) verifies', () => {
    const p = params({ se: '2026-11-24T07:41:53Z', sp: 'r', sv: '2015-04-05', sig: 'y8xhA0WNq3RK96uNPN8hcB1Q0Farp2wbTkq5UUUvYy8=' });
    assert.doesNotThrow(() => verifySas(account, request({ params: p, target: { level: 'blob', container: 'leg-v2015-04-05', blob: 'dir/file 1.txt' } })));
  });

  test('the captured account SAS: scope checks', () => {
    const p = params({ sv: '2026-04-06', ss: 'b', srt: 'sco', se: '2026-11-24T07:41:11Z', sp: 'rwdlc', sig: 'Y0OKZQ5L/lDUEn5F+IUq5C1yI9dhHPN9PA7EELlfv8w=' });
    for (const level of ['service', 'container', 'blob'] as const) {
      assert.doesNotThrow(() => verifySas(account, request({ params: p, target: { level, container: 'c', blob: 'b' }, allowedBy: ['l', 'r'] })));
    }
    assert.throws(
      () => verifySas(account, request({ params: p, protocol: 'http', clientIp: '127.0.0.1', now: Date.parse('2027-01-01T00:00:00Z') })),
      refusal(403, 'AuthenticationFailed'),
    );
  });
});
