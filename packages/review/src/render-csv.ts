import { stringify } from 'csv-stringify/sync';
import type { ReviewReport } from './views.ts';

const COLUMNS = [
  'doc_id',
  'doc_title',
  'doc_outcome',
  'doc_error',
  'item_id',
  'requirement',
  'verdict',
  'reason',
  'confidence',
  'evidence',
  'sections',
  'rationale',
  'doc_change',
  'carried_from',
];

/**
 * A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`,
 * so quoting a document's text can never execute anything where the report is opened (OWASP's
 * advice on CSV injection). Everything else is as recorded.
 */
function cell(value: string | number | undefined): string | number {
  if (value === undefined) return '';
  if (typeof value === 'number') return value;
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

/**
 * The report as CSV (RFC 4180, header row, CRLF): one row per finding, and one row for each
 * document without findings (not permitted, not found, failed, or still pending), so every
 * document of the run appears. Several quotes of one finding are joined with ` | `. On a rerun,
 * `doc_change` says how the document compares with the previous run and `carried_from` names the
 * run a carried finding comes from.
 */
export function renderCsv(report: ReviewReport): string {
  const requirement = new Map(report.checklist.items.map((i) => [i.id, i.requirement]));
  const byDoc = new Map<string, ReviewReport['findings']>();
  for (const f of report.findings) byDoc.set(f.docId, [...(byDoc.get(f.docId) ?? []), f]);
  const rows: (string | number)[][] = [];
  for (const d of report.documents) {
    const doc = [d.docId, d.title, d.outcome ?? 'pending', d.error?.message].map(cell);
    const change = cell(d.change);
    const findings = byDoc.get(d.docId) ?? [];
    if (findings.length === 0) rows.push([...doc, '', '', '', '', '', '', '', '', change, '']);
    for (const f of findings)
      rows.push([
        ...doc,
        ...[
          f.itemId,
          requirement.get(f.itemId),
          f.verdict,
          f.reason,
          f.confidence,
          f.evidence.map((e) => e.quote).join(' | '),
          f.evidence.map((e) => e.section ?? '').join(' | '),
          f.rationale,
        ].map(cell),
        change,
        cell(f.carriedFrom),
      ]);
  }
  return stringify(rows, {
    header: true,
    columns: COLUMNS,
    record_delimiter: 'windows',
    quoted_string: true,
  });
}
