import { createHash } from 'node:crypto';

/** The report page's style sheet (inline: the page fetches nothing). */
export const REPORT_CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1d;background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:1.5rem 2rem 4rem}
h1{margin:.2rem 0}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.3rem}
.meta{color:#555}.meta code{color:#222}
.tiles{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.tile{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:.5rem .8rem;min-width:7rem}
.tile b{display:block;font-size:1.35rem}.tile span{color:#666;font-size:12px}
.chart{max-width:100%;height:auto;background:#fff;border:1px solid #e2e2e2;border-radius:6px}
.chart text{font-size:12px;fill:#222}.chart .label{text-anchor:end}.chart .n{text-anchor:middle;fill:#fff;font-weight:600}
.chart .total{fill:#555}.chart a:hover rect{opacity:.8}
.filters{display:flex;flex-wrap:wrap;gap:.8rem;align-items:end;background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:.6rem .8rem}
.filters fieldset{border:0;margin:0;padding:0}.filters legend{font-size:12px;color:#555}
.filters label{font-size:13px}.filters select,.filters input[type=search]{font:inherit;padding:.15rem .3rem}
#shown{margin-left:auto;color:#555}
table{border-collapse:collapse;width:100%;margin:.8rem 0;background:#fff}
td,th{border:1px solid #e2e2e2;padding:.35rem .5rem;vertical-align:top;text-align:left}th{background:#f1f1f1}
tr[hidden]{display:none}
.badge{display:inline-block;border-radius:3px;padding:0 .35rem;color:#fff;font-size:12px;white-space:nowrap}
.compliant{background:#2e7d32}.non_compliant{background:#c62828}.not_applicable{background:#8a8a8a}.unclear{background:#e0a000}
.change{background:#eef;color:#224;border:1px solid #bbd}.change.new,.change.changed{background:#fff3cd;color:#6a4b00;border-color:#e6cf85}
blockquote{margin:0 0 .4rem;padding:.2rem .5rem;border-left:3px solid #bbb;background:#fcfcfc}
mark{background:#fff176;padding:0 .1rem}.ctx{color:#666}
a.sec{font-size:12px;color:#35608f;text-decoration:none;white-space:nowrap}
.doc{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:.6rem 1rem;margin:.8rem 0}
.doc h3{margin:.2rem 0}.doc section{margin:.5rem 0 .5rem .5rem}.doc h4{margin:.4rem 0;font-size:13px;color:#35608f}
.doc .excerpt{margin:.2rem 0 .5rem}.error{color:#a00}small{color:#666}
:target{outline:2px solid #35608f;outline-offset:3px}
`;

/**
 * The filters of the findings table: verdicts (checkboxes), item, document, change and free text;
 * a bar of the chart sets the item. Rows are filtered in place; nothing is fetched.
 */
export const REPORT_SCRIPT = `(() => {
  const form = document.getElementById('filters');
  const rows = [...document.querySelectorAll('#findings-table tbody tr')];
  const shown = document.getElementById('shown');
  const field = (name) => form.elements.namedItem(name);
  const value = (name) => (field(name) ? field(name).value : '');
  const apply = () => {
    const verdicts = new Set([...form.querySelectorAll('input[name=verdict]:checked')].map((i) => i.value));
    const item = value('item');
    const doc = value('doc');
    const change = value('change');
    const q = value('q').trim().toLowerCase();
    let n = 0;
    for (const row of rows) {
      const ok = verdicts.has(row.dataset.verdict) && (!item || row.dataset.item === item) &&
        (!doc || row.dataset.doc === doc) && (!change || row.dataset.change === change) &&
        (!q || row.textContent.toLowerCase().includes(q));
      row.hidden = !ok;
      if (ok) n++;
    }
    shown.textContent = n + ' of ' + rows.length + ' findings';
  };
  form.addEventListener('input', apply);
  form.addEventListener('submit', (e) => e.preventDefault());
  for (const a of document.querySelectorAll('[data-item-filter]'))
    a.addEventListener('click', () => { field('item').value = a.dataset.itemFilter; apply(); });
  apply();
})();`;

/**
 * The page's Content-Security-Policy: nothing may be fetched; the one inline script runs by its
 * hash, inline styles are allowed. Sent as a header and repeated in the page, so a saved copy keeps it.
 */
export const REPORT_CSP = `default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-${createHash(
  'sha256',
)
  .update(REPORT_SCRIPT)
  .digest('base64')}'; base-uri 'none'; form-action 'none'`;
