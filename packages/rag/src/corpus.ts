import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The sample corpus shipped with the package: policies of a bank's compliance function. */
export const SAMPLE_CORPUS_DIR = fileURLToPath(new URL('../corpus', import.meta.url));
export const SAMPLE_TENANT = 'acme-bank';

export interface EvalQuestion {
  id: string;
  question: string;
  docId: string;
  /** A heading in the answering document; a chunk is relevant when its section path contains it. */
  section: string;
  /** Groups the asking user needs; empty when the document is public within the tenant. */
  groups: string[];
}

export interface EvalSet {
  tenant: string;
  questions: EvalQuestion[];
}

export function loadEvalSet(path = `${SAMPLE_CORPUS_DIR}/eval.json`): EvalSet {
  return JSON.parse(readFileSync(path, 'utf8')) as EvalSet;
}

/** Whether a retrieved chunk answers `q` under the eval set's rule. */
export function isRelevant(q: EvalQuestion, chunk: { docId: string; sectionPath: string[] }): boolean {
  return chunk.docId === q.docId && chunk.sectionPath.includes(q.section);
}
