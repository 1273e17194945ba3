import { createHmac, timingSafeEqual } from 'node:crypto';

export const hmacSha256 = (key: Buffer, message: string): Buffer => createHmac('sha256', key).update(message, 'utf8').digest();

/** Compares a base64 signature with the expected bytes in constant time. */
export function signatureMatches(expected: Buffer, givenBase64: string): boolean {
  const given = Buffer.from(givenBase64, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
