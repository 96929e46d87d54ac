import { describe, expect, it } from 'vitest';
import { isWeakRetrieval, termCoverage, WEAK_COVERAGE } from './search-again.ts';

describe('retrieval strength', () => {
  it("is the share of the question's terms found in the passages, stems and stop words aside", () => {
    expect(termCoverage('Which records do we keep?', 'Records: we keep them.')).toBe(1);
    expect(
      termCoverage(
        'hacked systems regulator deadline',
        'The controller notifies the breach within a deadline.',
      ),
    ).toBe(0.25);
    expect(termCoverage('the of and', 'anything')).toBe(1);
  });

  it('is weak below the threshold, and when nothing was found', () => {
    expect(WEAK_COVERAGE).toBeGreaterThan(0);
    expect(isWeakRetrieval('hacked systems regulator deadline', 'A deadline.')).toBe(true);
    expect(
      isWeakRetrieval('breach notification deadline', 'Breach notification: the deadline is 72 hours.'),
    ).toBe(false);
    expect(isWeakRetrieval('breach', '   ')).toBe(true);
  });
});
