import { SEARCH_AGAIN_INSTRUCTIONS } from '@agent-fleet/rag';
import type { Profile } from '@agent-fleet/state';
import { describe, expect, it } from 'vitest';
import type { Grounding } from './checkpoint.ts';
import { searchAgainInstructions } from './search-again.ts';

const profile = (tools?: string[]): Profile => ({
  userId: 'ada',
  tenant: 'acme',
  groups: [],
  settings: tools === undefined ? {} : { tools },
  updatedAt: '2025-01-01T00:00:00.000Z',
});
const grounding = (context: string): Grounding => ({ context, citations: [] });
const passages = grounding(
  '[1] (Article 33 — Notification of a personal data breach) The controller shall notify.',
);

describe('searchAgainInstructions', () => {
  it('invites one more search when the passages match little of the question', () => {
    const q = 'Our systems were hacked: when do we tell the regulator?';
    expect(searchAgainInstructions(q, passages, profile())).toBe(SEARCH_AGAIN_INSTRUCTIONS);
    expect(searchAgainInstructions(q, passages, profile(['search_documents']))).toBe(
      SEARCH_AGAIN_INSTRUCTIONS,
    );
  });

  it('stays silent when the passages match, nothing was found, or the agent may not search', () => {
    expect(searchAgainInstructions('When must the controller notify a breach?', passages, profile())).toBe(
      '',
    );
    expect(searchAgainInstructions('Hacked?', grounding(''), profile())).toBe('');
    expect(searchAgainInstructions('Hacked?', passages, profile(['save_note']))).toBe('');
    expect(searchAgainInstructions('Hacked?', passages, null)).toBe('');
  });
});
