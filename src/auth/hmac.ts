import { createHmac, timingSafeEqual } from 'node:crypto';

export const hmacSha256 = (key: Buffer, message: string): Buffer => createHmac('sha256', key).update(message, 'utf8').digest();

/**
 * Decodes canonical base64 only: Buffer.from is lenient (it skips junk, stops at `=` and ignores what
 * follows), so a signature with bytes appended would decode to the same value and be accepted.
 */
export function decodeExactBase64(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/** Compares a base64 signature with the expected bytes in constant time. */
export function signatureMatches(expected: Buffer, givenBase64: string): boolean {
  const given = decodeExactBase64(givenBase64);
  return given !== undefined && given.length === expected.length && timingSafeEqual(given, expected);
}
