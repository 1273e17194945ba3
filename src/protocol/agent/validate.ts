/**
 * The shapes of what agents send (messages.ts), checked before anything reads them: a join token
 * or node token holder is a peer, not trusted code, so a malformed message is a 400 naming the
 * property at fault, never an exception deeper in. Unknown properties are refused too. The checks
 * are typed against the message interfaces: a property or enum member added there does not compile
 * until it has its check here.
 */
import type { TaskRunResult } from '../../agent/runTask.js';
import type { FailureInfo } from '../../domain/batch/models.js';
import { AgentApiError } from './errors.js';
import { FILE_RESULT_HEADER, type AgentReport, type FileEntry, type FileResult, type JoinRequest, type ReportsRequest } from './messages.js';

type Check<T> = (value: unknown, at: string) => T;

const refuse = (at: string, what: string): never => {
  throw new AgentApiError(400, `${at} ${what}`);
};

const string =
  (max: number): Check<string> =>
  (v, at) =>
    typeof v === 'string' && v.length <= max ? v : refuse(at, `must be a string of at most ${max} characters`);

const boolean: Check<boolean> = (v, at) => (typeof v === 'boolean' ? v : refuse(at, 'must be true or false'));

const integer =
  (min: number, max: number): Check<number> =>
  (v, at) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? v : refuse(at, `must be an integer from ${min} to ${max}`);

const finite: Check<number> = (v, at) => (typeof v === 'number' && Number.isFinite(v) ? v : refuse(at, 'must be a number'));

/** One of a union's strings; the record must name them all, so a member added to the union does not compile until it is here. */
const oneOf = <T extends string>(members: Record<T, true>): Check<T> => {
  const values = Object.keys(members);
  return (v, at) => (typeof v === 'string' && Object.hasOwn(members, v) ? (v as T) : refuse(at, `must be one of ${values.join(', ')}`));
};

const literal =
  <T extends boolean>(value: T): Check<T> =>
  (v, at) =>
    v === value ? value : refuse(at, `must be ${value}`);

const time: Check<string> = (v, at) => {
  const s = string(64)(v, at);
  return Number.isNaN(Date.parse(s)) ? refuse(at, 'must be a time') : s;
};

const list =
  <T>(item: Check<T>, max: number): Check<T[]> =>
  (v, at) =>
    Array.isArray(v) && v.length <= max ? v.map((x, i) => item(x, `${at}[${i}]`)) : refuse(at, `must be a list of at most ${max}`);

const OPTIONAL = Symbol('optional');
type Optional<T> = Check<T | undefined> & { [OPTIONAL]: true };

const optional = <T>(check: Check<T>): Optional<T> => Object.assign((v: unknown, at: string) => (v === undefined ? undefined : check(v, at)), { [OPTIONAL]: true as const });

/** An object with exactly these properties (optional ones may be absent). */
function object<T extends object>(fields: { [K in keyof T]-?: Check<T[K]> }): Check<T> {
  return (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return refuse(at, 'must be an object');
    const given = v as Record<string, unknown>;
    for (const key of Object.keys(given)) if (!Object.hasOwn(fields, key)) refuse(`${at}.${key}`, 'is not a known property');
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(fields) as [string, Check<unknown>][]) {
      const value = Object.hasOwn(given, key) ? given[key] : undefined;
      if (value === undefined && !(OPTIONAL in check)) refuse(`${at}.${key}`, 'is required');
      const checked = check(value, `${at}.${key}`);
      if (checked !== undefined) out[key] = checked;
    }
    return out as T;
  };
}

// Generous bounds: the largest an honest agent sends (long failure messages, a node running
// thousands of tasks), small enough that no message costs the server much.
const ID = 1024;
const TEXT = 16 * 1024;

const failureInfo = object<FailureInfo>({
  category: oneOf<FailureInfo['category']>({ usererror: true, servererror: true }),
  code: optional(string(ID)),
  message: optional(string(TEXT)),
  details: optional(list(object<{ name: string; value: string }>({ name: string(ID), value: string(TEXT) }), 64)),
});

const taskRunResult = object<TaskRunResult>({
  startTime: time,
  endTime: time,
  exitCode: optional(integer(-(2 ** 31), 2 ** 32 - 1)),
  result: oneOf<TaskRunResult['result']>({ success: true, failure: true }),
  failureInfo: optional(failureInfo),
  preProcessingError: boolean,
  fileUploadError: boolean,
});

const report = object<AgentReport>({ type: oneOf<AgentReport['type']>({ completed: true }), runId: string(ID), result: taskRunResult });

const reportsRequest = object<ReportsRequest>({
  reports: list(report, 10_000),
  running: optional(list(string(ID), 100_000)),
});

const joinRequest = object<JoinRequest>({
  nodeToken: optional(string(ID)),
  hostname: string(255),
  isDedicated: boolean,
  canSeparateUsers: boolean,
});

const fileEntry = object<FileEntry>({
  name: string(TEXT),
  isDirectory: boolean,
  size: integer(0, Number.MAX_SAFE_INTEGER),
  mtimeMs: finite,
  ctimeMs: finite,
  mode: integer(0, 0o177777),
});

const fileSuccess = object<Extract<FileResult, { ok: true }>>({
  ok: literal(true),
  entries: optional(list(fileEntry, 1_000_000)),
  stat: optional(fileEntry),
  range: optional(object<{ start: number; end: number }>({ start: integer(0, Number.MAX_SAFE_INTEGER), end: integer(-1, Number.MAX_SAFE_INTEGER) })),
});

type FileFailure = Extract<FileResult, { ok: false }>;

const fileFailure = object<FileFailure>({
  ok: literal(false),
  error: oneOf<FileFailure['error']>({ notfound: true, invalidrange: true, notempty: true, forbidden: true, failed: true }),
  message: string(TEXT),
});

export const checkJoinRequest = (body: unknown): JoinRequest => joinRequest(body, 'body');
export const checkReportsRequest = (body: unknown): ReportsRequest => reportsRequest(body, 'body');

/** The x-kiln-file-result header: JSON of a FileResult. */
export function checkFileResult(header: string | string[] | undefined): FileResult {
  if (typeof header !== 'string') return refuse(`the ${FILE_RESULT_HEADER} header`, 'is required, once');
  let parsed: unknown;
  try {
    parsed = JSON.parse(header);
  } catch {
    return refuse(`the ${FILE_RESULT_HEADER} header`, 'is not JSON');
  }
  const ok = (parsed as { ok?: unknown } | null)?.ok;
  return ok === true ? fileSuccess(parsed, 'result') : fileFailure(parsed, 'result');
}
