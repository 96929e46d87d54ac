import type { ReviewReport } from './views.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe anywhere in HTML: element content and quoted attribute values. */
export function esc(text: string | number | undefined): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export const VERDICT_COLORS: Record<string, string> = {
  compliant: '#2e7d32',
  non_compliant: '#c62828',
  not_applicable: '#8a8a8a',
  unclear: '#e0a000',
};

export const VERDICT_LABELS: Record<string, string> = {
  compliant: 'compliant',
  non_compliant: 'non-compliant',
  not_applicable: 'not applicable',
  unclear: 'unclear',
};

type Evidence = ReviewReport['findings'][number]['evidence'][number];

/**
 * Where each piece of evidence is shown in the page's document part: documents are `d<n>` (their
 * position in the report), and each section of a document that holds evidence `d<n>-s<m>`.
 */
export class Anchors {
  readonly #docs = new Map<string, number>();
  readonly #sections = new Map<string, Map<string, number>>();

  constructor(report: ReviewReport) {
    report.documents.forEach((d, i) => {
      this.#docs.set(d.docId, i + 1);
    });
    for (const f of report.findings)
      for (const e of f.evidence) {
        const sections = this.#sections.get(f.docId) ?? new Map<string, number>();
        if (!sections.has(e.section ?? '')) sections.set(e.section ?? '', sections.size + 1);
        this.#sections.set(f.docId, sections);
      }
  }

  doc(docId: string): string {
    return `d${this.#docs.get(docId) ?? 0}`;
  }

  section(docId: string, section: string | undefined): string {
    return `${this.doc(docId)}-s${this.#sections.get(docId)?.get(section ?? '') ?? 0}`;
  }

  /** The sections of the document that hold evidence, in order of first appearance. */
  sectionsOf(docId: string): string[] {
    return [...(this.#sections.get(docId)?.keys() ?? [])];
  }
}

/** The quote highlighted in the text around it, as the document has it. */
export function quoteInContext(e: Evidence, label?: string): string {
  const title = label ? ` title="${esc(label)}"` : '';
  return `<span class="ctx">${esc(e.before)}</span><mark${title}>${esc(e.quote)}</mark><span class="ctx">${esc(e.after)}</span>`;
}

/** A section's heading path as shown (`§ Policy › Retention`), or the document's top when it has none. */
export function sectionName(section: string | undefined): string {
  return section ? `§ ${section.split(' > ').join(' › ')}` : '§ (before the first heading)';
}
