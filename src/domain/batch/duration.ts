/** ISO 8601 durations as Batch sends them: `PT15M`, `P1D`, `P10675199DT2H48M5.4775807S`. */
const DURATION = /^(-)?P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

const UNIT_MS = [365 * 86_400_000, 30 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000];

/** Milliseconds of a duration, or undefined if it is not one. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  let ms = 0;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = m[i + 2];
    if (part !== undefined) ms += Number(part) * UNIT_MS[i]!;
  }
  return m[1] ? -ms : ms;
}

/** What the service answers for "no limit": .NET's TimeSpan.MaxValue. */
export const UNLIMITED_DURATION = 'P10675199DT2H48M5.4775807S';

export const minutes = (n: number): number => n * 60_000;
