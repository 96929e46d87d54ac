import { REPORT_CSP, REPORT_CSS, REPORT_SCRIPT } from './html-assets.ts';
import { verdictChart } from './html-chart.ts';
import { Anchors, esc, quoteInContext, sectionName, VERDICT_LABELS } from './html-parts.ts';
import { VERDICTS } from './statuses.ts';
import type { ReviewReport } from './views.ts';

type Finding = ReviewReport['findings'][number];
type Document = ReviewReport['documents'][number];

/**
 * The report as one self-contained HTML page that works offline: inline CSS, one inline script
 * (allowed by hash in the page's CSP) and an inline SVG chart; nothing is fetched. It shows the
 * totals, verdict counts per checklist item as a chart, a findings table filterable by verdict,
 * item, document, change and text, each finding's evidence highlighted in the text around it with a
 * link to the section of the document it is in, and per document the sections holding evidence.
 * Every value from the run is escaped.
 */
export function renderHtml(report: ReviewReport): string {
  const title = `Review ${report.name ?? report.reviewId}`;
  const anchors = new Anchors(report);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${esc(REPORT_CSP)}">
<title>${esc(title)}</title>
<style>${REPORT_CSS}</style>
</head><body><main>
<h1>${esc(title)}</h1>
${header(report)}
${tiles(report)}
<h2 id="chart">Verdicts per checklist item</h2>
${verdictChart(report)}
<h2 id="findings">Findings</h2>
${filters(report)}
<table id="findings-table"><thead><tr><th>document</th><th>item</th><th>verdict</th><th>confidence</th><th>evidence in context</th><th>rationale</th></tr></thead><tbody>
${report.findings.map((f) => findingRow(report, anchors, f)).join('\n')}
</tbody></table>
<h2 id="documents">Documents</h2>
${report.documents.map((d) => documentPart(report, anchors, d)).join('\n')}
</main><script>${REPORT_SCRIPT}</script></body></html>
`;
}

function header(r: ReviewReport): string {
  const parts = [
    `<code>${esc(r.reviewId)}</code>`,
    esc(r.status),
    `user <code>${esc(r.userId)}</code>`,
    `created ${esc(r.createdAt)}`,
    ...(r.finishedAt ? [`finished ${esc(r.finishedAt)}`] : []),
    `report of ${esc(r.generatedAt)}`,
    ...(r.previousReviewId ? [`rerun of <code>${esc(r.previousReviewId)}</code>`] : []),
  ];
  return `<p class="meta">${parts.join(' · ')}</p>`;
}

function tiles(r: ReviewReport): string {
  const s = r.summary;
  const tile = (n: number | string, label: string) =>
    `<div class="tile"><b>${esc(n)}</b><span>${esc(label)}</span></div>`;
  return `<div class="tiles">${[
    tile(`${s.documents.done}/${s.documents.total}`, 'documents done'),
    tile(s.documents.reviewed, 'reviewed'),
    tile(s.documents.not_permitted, 'not permitted'),
    tile(s.documents.not_found, 'not found'),
    tile(s.documents.failed, 'failed'),
    ...VERDICTS.map((v) => tile(s.counts[v], VERDICT_LABELS[v]!)),
    ...(s.changes
      ? [
          tile(s.changes.new, 'new'),
          tile(s.changes.changed, 'changed'),
          tile(s.changes.unchanged, 'unchanged'),
        ]
      : []),
    tile(s.tokens.total, `tokens in ${s.tokens.calls} calls`),
  ].join('')}</div>`;
}

function filters(r: ReviewReport): string {
  const verdicts = VERDICTS.map(
    (v) =>
      `<label><input type="checkbox" name="verdict" value="${v}" checked> ${esc(VERDICT_LABELS[v])} (${r.summary.counts[v]})</label>`,
  ).join(' ');
  const option = (value: string, label: string) => `<option value="${esc(value)}">${esc(label)}</option>`;
  const items = r.checklist.items.map((i) => option(i.id, i.id)).join('');
  const docs = r.documents
    .map((d) => option(d.docId, d.title ? `${d.title} (${d.docId})` : d.docId))
    .join('');
  const change = r.previousReviewId
    ? `<label>Change <select name="change">${option('', 'all')}${['new', 'changed', 'unchanged'].map((c) => option(c, c)).join('')}</select></label>`
    : '';
  return `<form id="filters" class="filters"><fieldset><legend>Verdict</legend>${verdicts}</fieldset>
<label>Item <select name="item">${option('', 'all')}${items}</select></label>
<label>Document <select name="doc">${option('', 'all')}${docs}</select></label>
${change}<label>Text <input type="search" name="q" placeholder="quote, rationale, …"></label>
<output id="shown">${r.findings.length} of ${r.findings.length} findings</output></form>`;
}

function findingRow(r: ReviewReport, anchors: Anchors, f: Finding): string {
  const doc = r.documents.find((d) => d.docId === f.docId);
  const requirement = r.checklist.items.find((i) => i.id === f.itemId)?.requirement;
  const evidence = f.evidence
    .map(
      (e) =>
        `<blockquote>${quoteInContext(e)} <a class="sec" href="#${anchors.section(f.docId, e.section)}">${esc(sectionName(e.section))}</a></blockquote>`,
    )
    .join('');
  const carried = f.carriedFrom ? `<br><small>carried from <code>${esc(f.carriedFrom)}</code></small>` : '';
  return (
    `<tr data-verdict="${esc(f.verdict)}" data-item="${esc(f.itemId)}" data-doc="${esc(f.docId)}" data-change="${esc(doc?.change)}">` +
    `<td><a href="#${anchors.doc(f.docId)}">${esc(doc?.title ?? f.docId)}</a><br><code>${esc(f.docId)}</code>${changeBadge(doc)}</td>` +
    `<td title="${esc(requirement)}"><code>${esc(f.itemId)}</code></td>` +
    `<td><span class="badge ${esc(f.verdict)}">${esc(VERDICT_LABELS[f.verdict])}</span>${f.reason ? `<br><small>${esc(f.reason)}</small>` : ''}</td>` +
    `<td>${esc(f.confidence.toFixed(2))}</td><td>${evidence}</td><td>${esc(f.rationale)}${carried}</td></tr>`
  );
}

function changeBadge(doc: Document | undefined): string {
  return doc?.change ? ` <span class="badge change ${esc(doc.change)}">${esc(doc.change)}</span>` : '';
}

function documentPart(r: ReviewReport, anchors: Anchors, d: Document): string {
  const findings = r.findings.filter((f) => f.docId === d.docId);
  const verdicts = findings
    .map(
      (f) =>
        `<span class="badge ${esc(f.verdict)}" title="${esc(VERDICT_LABELS[f.verdict])}">${esc(f.itemId)}</span>`,
    )
    .join(' ');
  const sections = anchors.sectionsOf(d.docId).map((section) => {
    const quotes = findings.flatMap((f) =>
      f.evidence
        .filter((e) => (e.section ?? '') === section)
        .map(
          (e) =>
            `<p class="excerpt">${quoteInContext(e, `${f.itemId}: ${VERDICT_LABELS[f.verdict]}`)} <small>(${esc(f.itemId)})</small></p>`,
        ),
    );
    return `<section id="${anchors.section(d.docId, section)}"><h4>${esc(sectionName(section || undefined))}</h4>${quotes.join('')}</section>`;
  });
  return `<article class="doc" id="${anchors.doc(d.docId)}"><h3>${esc(d.title ?? d.docId)}${changeBadge(d)}</h3>
<p class="meta"><code>${esc(d.docId)}</code> · ${esc(d.outcome ?? 'pending')}${d.error ? ` · <span class="error">${esc(d.error.message)}</span>` : ''} · ${esc(d.tokens.total)} tokens${d.contentHash ? ` · sha256 <code>${esc(d.contentHash.slice(0, 12))}</code>` : ''}</p>
${verdicts ? `<p>${verdicts}</p>` : ''}${sections.join('\n')}</article>`;
}
