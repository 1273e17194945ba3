import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minutes, parseDuration, UNLIMITED_DURATION } from '../../src/domain/batch/duration.js';

describe('ISO 8601 durations (parseDuration)', () => {
  it('reads each unit Batch sends, alone and together', () => {
    const cases: [string, number][] = [
      ['PT15M', 15 * 60_000],
      ['PT1H', 3_600_000],
      ['PT30S', 30_000],
      ['PT0.5S', 500],
      ['P1D', 86_400_000],
      ['P1W', 7 * 86_400_000],
      ['P1M', 30 * 86_400_000],
      ['P1Y', 365 * 86_400_000],
      ['P1DT2H3M4S', 86_400_000 + 2 * 3_600_000 + 3 * 60_000 + 4000],
      ['PT1H30M', 90 * 60_000],
      ['P0D', 0],
      ['-PT1M', -60_000],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it("reads the service's 'unlimited' (.NET TimeSpan.MaxValue) as about 29,227 years", () => {
    const ms = parseDuration(UNLIMITED_DURATION)!;
    assert.equal(ms, 10675199 * 86_400_000 + 2 * 3_600_000 + 48 * 60_000 + 5477.5807);
  });

  it('refuses what is not a duration: no P, an empty P or T, minutes before hours, plain numbers', () => {
    for (const text of ['', 'P', 'PT', 'P1DT', '15M', 'PT1M1H', '900', 'pt15m', 'P1H', 'PT-1M', 'PT1,5S', 'PT15M ']) {
      assert.equal(parseDuration(text), undefined, JSON.stringify(text));
    }
  });

  it('minutes() is a minute in milliseconds', () => {
    assert.equal(minutes(5), 300_000);
    assert.equal(minutes(0), 0);
  });
});
