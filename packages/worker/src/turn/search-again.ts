import { isWeakRetrieval, SEARCH_AGAIN_INSTRUCTIONS } from '@agent-fleet/rag';
import type { Profile } from '@agent-fleet/state';
import { SEARCH_DOCUMENTS } from '../agent/builtin-tools.ts';
import type { Grounding } from './checkpoint.ts';

/**
 * The instructions that invite the model to search once more, in the documents' own words, when
 * the passages retrieved for the turn's question match little of it; '' when they match well, when
 * nothing was found (the prompt is then the question alone), or when the profile does not let the
 * agent search. The retry itself is then an ordinary `search_documents` call of the agent loop:
 * checkpointed like any step, bounded by the turn's step limit. It depends only on the question,
 * the checkpointed passages and the profile, so a resumed turn builds the same prompt.
 */
export function searchAgainInstructions(
  question: string,
  grounding: Grounding,
  profile: Profile | null,
): string {
  if (!profile || grounding.context === '') return '';
  const tools = profile.settings?.tools;
  if (tools !== undefined && !tools.includes(SEARCH_DOCUMENTS)) return '';
  return isWeakRetrieval(question, grounding.context) ? SEARCH_AGAIN_INSTRUCTIONS : '';
}
