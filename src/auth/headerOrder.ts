/**
 * The orders in which clients sort x-ms-* headers when they sign. They agree for the usual headers but
 * not when names hold '-', '_' or digits after the prefix (see shared/docs/blob-api.md §4), so a
 * verifier tries each before it refuses a signature.
 */
type Compare = (a: string, b: string) => number;

const codePoint: Compare = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// Python v12's alphabet for the names that can occur in lower-cased header names.
const weight = (c: string): number => {
  if (c === '-') return 0;
  if (c === '_') return 1;
  if (c >= '0' && c <= '9') return 2 + c.charCodeAt(0) - 48;
  if (c >= 'a' && c <= 'z') return 12 + c.charCodeAt(0) - 97;
  return 100 + c.charCodeAt(0);
};

const byWeight: Compare = (a, b) => {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = weight(a[i]!) - weight(b[i]!);
    if (d !== 0) return d;
  }
  return a.length - b.length;
};

// The JS SDK imitates the service's collation, in which a hyphen barely counts: compare without
// hyphens first, and only then with them.
const hyphenLight: Compare = (a, b) => byWeight(a.replaceAll('-', ''), b.replaceAll('-', '')) || byWeight(a, b);

export const HEADER_ORDERS: readonly Compare[] = [hyphenLight, byWeight, codePoint];
