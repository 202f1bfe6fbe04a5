// The demo's counts: Wilson intervals against the published values of Newcombe (1998), "Two-sided
// confidence intervals for the single proportion", Stat. Med. 17:857, Table I (method 3, no
// continuity correction), and the paired right/wrong change between two runs.
import { describe, expect, it } from 'vitest';
import { formatShare, pairedChange, share } from '../../llm/demo/counts.ts';

describe('demo counts', () => {
  it('gives the Wilson score interval of Newcombe\'s examples', () => {
    const cases: [number, number, number, number][] = [[81, 263, 0.2553, 0.3662], [15, 148, 0.0624, 0.1605], [0, 20, 0, 0.1611], [1, 29, 0.0061, 0.1718]];
    for (const [k, n, low, high] of cases) {
      const s = share(k, n);
      expect(s.rate).toBeCloseTo(k / n, 12);
      expect(s.low).toBeCloseTo(low, 4);
      expect(s.high).toBeCloseTo(high, 4);
    }
    expect(formatShare(share(138, 200))).toBe('138/200 = 69.0% [62.3, 75.0]');
  });

  it('counts answers lost and gained between two runs over the same questions', () => {
    const c = pairedChange([true, true, false, false, true], [true, false, true, false, true]);
    expect(c).toEqual({ n: 5, before: 3, after: 3, lost: 1, gained: 1 });
    expect(() => pairedChange([true], [])).toThrow(/1 answers before, 0 after/);
  });
});
