import type { ReviewReport } from './views.ts';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function esc(text: string | number | undefined): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * The report as one self-contained HTML page (inline CSS, no script, nothing fetched): the totals,
 * the documents and a table of findings with their quoted evidence. Every value is escaped. A
 * plain page: filters and per-document navigation are not part of it.
 */
export function renderHtml(report: ReviewReport): string {
  const s = report.summary;
  const requirement = new Map(report.checklist.items.map((i) => [i.id, i.requirement]));
  const title = `Review ${report.name ?? report.reviewId}`;
  const rows = report.findings
    .map(
      (f) =>
        `<tr class="${esc(f.verdict)}"><td><code>${esc(f.docId)}</code></td><td title="${esc(requirement.get(f.itemId))}"><code>${esc(f.itemId)}</code></td>` +
        `<td>${esc(f.verdict)}${f.reason ? ` <small>(${esc(f.reason)})</small>` : ''}</td><td>${esc(f.confidence.toFixed(2))}</td>` +
        `<td>${f.evidence.map((e) => `<blockquote>${esc(e.quote)}${e.section ? `<cite>${esc(e.section)}</cite>` : ''}</blockquote>`).join('')}</td>` +
        `<td>${esc(f.rationale)}</td></tr>`,
    )
    .join('\n');
  const documents = report.documents
    .map(
      (d) =>
        `<tr><td><code>${esc(d.docId)}</code></td><td>${esc(d.title)}</td><td>${esc(d.outcome ?? 'pending')}</td><td>${esc(d.error?.message)}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;width:100%;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top;text-align:left}th{background:#f3f3f3}
blockquote{margin:0 0 .3rem;padding-left:.5rem;border-left:3px solid #aaa}cite{display:block;color:#666;font-size:12px}
tr.non_compliant td:nth-child(3){color:#a00;font-weight:600}tr.compliant td:nth-child(3){color:#060}tr.unclear td:nth-child(3){color:#a60}</style>
</head><body>
<h1>${esc(title)}</h1>
<p><code>${esc(report.reviewId)}</code> · ${esc(report.status)} · user <code>${esc(report.userId)}</code> · created ${esc(report.createdAt)}${report.finishedAt ? ` · finished ${esc(report.finishedAt)}` : ''}</p>
<p>Documents: ${esc(s.documents.done)} of ${esc(s.documents.total)} done (${esc(s.documents.reviewed)} reviewed, ${esc(s.documents.not_permitted)} not permitted, ${esc(s.documents.not_found)} not found, ${esc(s.documents.failed)} failed).
Findings: ${esc(s.counts.compliant)} compliant, ${esc(s.counts.non_compliant)} non-compliant, ${esc(s.counts.not_applicable)} not applicable, ${esc(s.counts.unclear)} unclear.
Tokens: ${esc(s.tokens.total)} in ${esc(s.tokens.calls)} model calls.</p>
<h2>Documents</h2>
<table><thead><tr><th>document</th><th>title</th><th>outcome</th><th>error</th></tr></thead><tbody>
${documents}
</tbody></table>
<h2>Findings</h2>
<table><thead><tr><th>document</th><th>item</th><th>verdict</th><th>confidence</th><th>evidence</th><th>rationale</th></tr></thead><tbody>
${rows}
</tbody></table>
</body></html>
`;
}
