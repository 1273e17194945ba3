import assert from 'node:assert/strict';
import { RestError } from '@azure/storage-blob';

/** Asserts Azure's XML error body: `<?xml…?><Error><Code>CODE</Code><Message>…</Message>…</Error>`. */
export function assertErrorXml(body: string | undefined, code: string): void {
  assert.ok(body, `expected an XML error body with code ${code}`);
  assert.match(body, /^<\?xml version="1\.0" encoding="utf-8"\?>\s*<Error>/);
  assert.match(body, new RegExp(`<Error><Code>${code}</Code><Message>[^<]+</Message>`));
  assert.match(body, /<\/Error>\s*$/);
}

/**
 * Awaits an SDK call that must fail with Azure's status and error code. The code is checked where every
 * client looks for it: the x-ms-error-code header, and (when the answer has a body) the SDK's `err.code`
 * and the XML body itself. HEAD answers and 304 have no body, so only the header carries the code.
 */
export async function rejectsWith(call: Promise<unknown>, status: number, code: string, opts: { body?: boolean } = {}): Promise<RestError> {
  const withBody = opts.body ?? true;
  let caught: unknown;
  try {
    await call;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected ${status} ${code}, but the call succeeded`);
  assert.ok(caught instanceof RestError, `expected a RestError, got ${String(caught)}`);
  const err = caught;
  const detail = `${err.statusCode} ${err.code}: ${err.message}`;
  assert.equal(err.statusCode, status, detail);
  assert.equal(err.response?.headers.get('x-ms-error-code'), code, detail);
  if (withBody) {
    assert.equal(err.code, code, detail);
    assert.match(err.response?.headers.get('content-type') ?? '', /^application\/xml/);
    assertErrorXml(err.response?.bodyAsText ?? undefined, code);
  } else {
    assert.ok(!err.response?.bodyAsText, `expected no body, got ${err.response?.bodyAsText}`);
  }
  return err;
}

/** The same checks for a raw `fetch` answer. Returns the body text. */
export async function expectRawError(res: Response, status: number, code: string, opts: { body?: boolean } = {}): Promise<string> {
  const withBody = opts.body ?? true;
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.equal(res.headers.get('x-ms-error-code'), code, text);
  if (withBody) {
    assert.match(res.headers.get('content-type') ?? '', /^application\/xml/);
    assertErrorXml(text, code);
  } else {
    assert.equal(text, '');
  }
  return text;
}
