import { createHash } from 'node:crypto';
import { REPORT_CSP, type ReviewReport, renderHtml } from '@agent-fleet/review';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.ts';

const HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';

const tokens = { prompt: 10, completion: 5, cached: 0, total: 15, calls: 1 };
const evidence = (quote: string, section?: string) => ({
  quote,
  ...(section ? { section } : {}),
  before: `…text before ${HOSTILE} `,
  after: ' and after.',
});

/** A rerun of two documents and three items, with content that would run if it were not escaped. */
const REPORT: ReviewReport = {
  reviewId: `r_${'a'.repeat(32)}`,
  name: `quarterly ${HOSTILE}`,
  userId: 'ann',
  status: 'completed',
  generatedAt: '2026-01-01T00:00:00.000Z',
  createdAt: '2026-01-01T00:00:00.000Z',
  previousReviewId: `r_${'b'.repeat(32)}`,
  checklist: {
    items: [
      { id: 'retention', requirement: `Records are kept five years ${HOSTILE}` },
      { id: 'gifts', requirement: 'Gifts need approval.' },
      { id: 'screening', requirement: 'Customers are screened.' },
    ],
  },
  summary: {
    documents: { total: 2, done: 2, reviewed: 2, not_permitted: 0, not_found: 0, failed: 0 },
    counts: { compliant: 3, non_compliant: 1, not_applicable: 1, unclear: 1 },
    tokens,
    changes: { new: 1, changed: 0, unchanged: 1 },
  },
  documents: [
    { docId: 'case-1', title: `Case ${HOSTILE}`, outcome: 'reviewed', change: 'unchanged', tokens },
    { docId: 'case-2', title: 'Case two', outcome: 'reviewed', change: 'new', tokens },
  ],
  findings: [
    {
      docId: 'case-1',
      itemId: 'retention',
      verdict: 'compliant',
      evidence: [evidence(`Records are kept for five years "${HOSTILE}"`, 'Policy > Retention')],
      rationale: HOSTILE,
      confidence: 0.9,
      carriedFrom: `r_${'b'.repeat(32)}`,
    },
    {
      docId: 'case-1',
      itemId: 'gifts',
      verdict: 'not_applicable',
      evidence: [],
      rationale: 'n/a',
      confidence: 0.5,
    },
    {
      docId: 'case-1',
      itemId: 'screening',
      verdict: 'compliant',
      evidence: [evidence('Customers are screened before onboarding.')],
      rationale: 'ok',
      confidence: 0.8,
    },
    {
      docId: 'case-2',
      itemId: 'retention',
      verdict: 'compliant',
      evidence: [evidence('Kept for five years after the end.', 'Records')],
      rationale: 'ok',
      confidence: 0.7,
    },
    {
      docId: 'case-2',
      itemId: 'gifts',
      verdict: 'non_compliant',
      evidence: [evidence('Gifts were accepted without approval.', 'Gifts')],
      rationale: 'no approval',
      confidence: 0.9,
    },
    {
      docId: 'case-2',
      itemId: 'screening',
      verdict: 'unclear',
      reason: 'unverifiable_evidence',
      evidence: [],
      rationale: 'asked twice',
      confidence: 0,
    },
  ],
};

describe('the HTML report: one self-contained page', () => {
  const html = renderHtml(REPORT);
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('fetches nothing, escapes every value, and runs its one script by the hash in its policy', () => {
    expect(html).not.toMatch(/\b(src|href)="(?!#)/);
    expect(html).not.toContain('<script>window.pwned');
    expect(html).not.toContain('<img');
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]!).digest('base64');
    expect(REPORT_CSP).toContain(`'sha256-${hash}'`);
    expect(REPORT_CSP).toContain("default-src 'none'");
    // Every in-page link leads somewhere on the page.
    const ids = new Set([...html.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1]));
    for (const [, target] of html.matchAll(/href="#([^"]+)"/g)) expect(ids.has(target), target).toBe(true);
  });

  it('shows the chart, filters the findings table, highlights quotes in context and links to their sections', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      if (!r.url().startsWith('data:') && r.url() !== 'about:blank') problems.push(`fetched ${r.url()}`);
    });
    try {
      await page.setContent(html);
      // CSP as in the page (a saved file) and as the gateway sends it.
      expect(await page.evaluate(() => (globalThis as { pwned?: number }).pwned)).toBeUndefined();
      const visible = () => page.locator('#findings-table tbody tr:not([hidden])').count();
      expect(await page.locator('#shown').textContent()).toBe('6 of 6 findings');
      // Three bars' worth of segments: 6 findings over 3 items, one rect per (item, verdict) present.
      expect(await page.locator('svg.chart a rect').count()).toBe(5);
      await page.getByLabel('compliant (3)', { exact: true }).uncheck();
      expect(await visible()).toBe(3);
      await page.locator('select[name=change]').selectOption('new');
      expect(await visible()).toBe(2);
      await page.locator('select[name=change]').selectOption('');
      await page.getByLabel('compliant (3)', { exact: true }).check();
      await page.locator('svg.chart a[data-item-filter="gifts"] rect').first().click();
      expect(await page.locator('select[name=item]').inputValue()).toBe('gifts');
      expect(await visible()).toBe(2);
      await page.locator('select[name=item]').selectOption('');
      await page.locator('input[name=q]').fill('without approval');
      expect(await page.locator('#shown').textContent()).toBe('1 of 6 findings');
      const row = page.locator('#findings-table tbody tr:not([hidden])');
      expect(await row.locator('mark').textContent()).toBe('Gifts were accepted without approval.');
      expect(await row.locator('blockquote').textContent()).toContain(`…text before ${HOSTILE} Gifts were`);
      await row.locator('a.sec').click();
      const target = page.locator(':target');
      expect(await target.locator('h4').textContent()).toBe('§ Gifts');
      expect(await target.locator('mark').textContent()).toBe('Gifts were accepted without approval.');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
