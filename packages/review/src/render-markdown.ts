import type { ReviewReport } from './views.ts';

/** Text safe inside a Markdown table cell: pipes escaped, line breaks as spaces. */
function inCell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
}

const VERDICT_LABEL: Record<string, string> = {
  compliant: 'compliant',
  non_compliant: '**non-compliant**',
  not_applicable: 'not applicable',
  unclear: '_unclear_',
};

/**
 * The report as Markdown: the run and its totals, a table of documents by outcome, then per
 * reviewed document a table of its findings with the evidence quoted and where it was found.
 */
export function renderMarkdown(report: ReviewReport): string {
  const s = report.summary;
  const lines: string[] = [
    `# Review ${inCell(report.name ?? report.reviewId)}`,
    '',
    `- Review: \`${report.reviewId}\` (${report.status}), for user \`${report.userId}\``,
    `- Created ${report.createdAt}${report.finishedAt ? `, finished ${report.finishedAt}` : ''}; report of ${report.generatedAt}`,
    `- Documents: ${s.documents.done} of ${s.documents.total} done — ${s.documents.reviewed} reviewed, ` +
      `${s.documents.not_permitted} not permitted, ${s.documents.not_found} not found, ${s.documents.failed} failed`,
    `- Findings: ${s.counts.compliant} compliant, ${s.counts.non_compliant} non-compliant, ` +
      `${s.counts.not_applicable} not applicable, ${s.counts.unclear} unclear`,
    ...(report.previousReviewId
      ? [
          `- Rerun of \`${report.previousReviewId}\`: ${s.changes?.new ?? 0} new, ${s.changes?.changed ?? 0} changed ` +
            `(both reviewed), ${s.changes?.unchanged ?? 0} unchanged (findings carried)`,
        ]
      : []),
    `- Tokens: ${s.tokens.total} (${s.tokens.prompt} prompt, ${s.tokens.cached} of them cached, ` +
      `${s.tokens.completion} completion) in ${s.tokens.calls} model calls`,
    '',
    '## Checklist',
    '',
    '| item | requirement | policy |',
    '| --- | --- | --- |',
    ...report.checklist.items.map(
      (i) => `| \`${i.id}\` | ${inCell(i.requirement)} | ${i.policyRef ? inCell(i.policyRef) : ''} |`,
    ),
    '',
    '## Documents',
    '',
    ...documentTable(report),
  ];
  const byDoc = new Map<string, ReviewReport['findings']>();
  for (const f of report.findings) byDoc.set(f.docId, [...(byDoc.get(f.docId) ?? []), f]);
  for (const d of report.documents) {
    const findings = byDoc.get(d.docId);
    if (!findings) continue;
    lines.push('', `## ${inCell(d.title ?? d.docId)} (\`${d.docId}\`)`, '');
    lines.push('| item | verdict | confidence | evidence | rationale |', '| --- | --- | --- | --- | --- |');
    for (const f of findings) {
      const evidence = f.evidence
        .map((e) => `“${inCell(e.quote)}”${e.section ? ` (${inCell(e.section)})` : ''}`)
        .join('<br>');
      const verdict = `${VERDICT_LABEL[f.verdict] ?? f.verdict}${f.reason ? ` (${f.reason})` : ''}`;
      lines.push(
        `| \`${f.itemId}\` | ${verdict} | ${f.confidence.toFixed(2)} | ${evidence} | ${inCell(f.rationale)} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The documents by outcome; on a rerun with how each compares with the previous run. */
function documentTable(report: ReviewReport): string[] {
  const rerun = report.previousReviewId !== undefined;
  return [
    rerun ? '| document | title | outcome | change |' : '| document | title | outcome |',
    rerun ? '| --- | --- | --- | --- |' : '| --- | --- | --- |',
    ...report.documents.map((d) => {
      const outcome = `${d.outcome ?? 'pending'}${d.error ? `: ${inCell(d.error.message)}` : ''}`;
      return `| \`${d.docId}\` | ${inCell(d.title ?? '')} | ${outcome} |${rerun ? ` ${d.change ?? ''} |` : ''}`;
    }),
  ];
}
