import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatOf, markdownHeadings, ParseError, parseDocument } from './parse.ts';
import { minimalPdf } from './testing/pdf-fixtures.ts';

const reasonOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ParseError);
    return {
      reason: (err as ParseError).reason,
      code: (err as ParseError).code,
      message: (err as Error).message,
    };
  }
  throw new Error('expected a ParseError');
};

describe('parseDocument', () => {
  it('reads Markdown: front matter, title, headings with offsets, code blocks not taken for headings', async () => {
    const src =
      '---\nid: pol-1\ntitle: "Gifts policy"\nacl: [legal, aml]\npublic: false\n---\n# Gifts\n\nIntro.\n\n## 1. Scope\n\nText.\n\n```\n# not a heading\n```\n\nSetext\n------\n';
    const doc = await parseDocument({ data: src, filename: 'gifts.md' });
    expect(doc.meta).toEqual({ id: 'pol-1', title: 'Gifts policy', acl: ['legal', 'aml'], public: false });
    expect(doc.title).toBe('Gifts policy');
    expect(doc.text.startsWith('# Gifts')).toBe(true);
    expect(doc.headings.map((h) => [h.level, h.heading])).toEqual([
      [1, 'Gifts'],
      [2, '1. Scope'],
      [2, 'Setext'],
    ]);
    for (const h of doc.headings) expect(doc.text.slice(h.start)).toMatch(/^(#|Setext)/);
  });

  it('reads HTML into text with Markdown headings and skips scripts', async () => {
    const html =
      '<html><head><title>Sanctions</title><script>evil()</script></head><body><h1>Screening</h1><p>Screen <b>all</b> payments.</p><h2>Alerts</h2><p>Review in 24 hours.</p></body></html>';
    const doc = await parseDocument({ data: new TextEncoder().encode(html), filename: 'x.HTML' });
    expect(doc.title).toBe('Sanctions');
    expect(doc.text).toContain('Screen all payments.');
    expect(doc.text).not.toContain('evil');
    expect(doc.headings.map((h) => h.heading)).toEqual(['Screening', 'Alerts']);
  });

  it('reads a PDF page by page, each page a section', async () => {
    const doc = await parseDocument({
      data: minimalPdf(['Hello world', 'Second page text']),
      filename: 'a.pdf',
    });
    expect(doc.text).toBe('Hello world\n\nSecond page text');
    expect(doc.headings).toEqual([
      { start: 0, level: 1, heading: 'Page 1' },
      { start: 13, level: 1, heading: 'Page 2' },
    ]);
  });

  it('normalises line endings and strips NUL-free text as is', async () => {
    const doc = await parseDocument({ data: 'a\r\nb\rc', filename: 'a.txt' });
    expect(doc.text).toBe('a\nb\nc');
  });

  it('gives a clear, typed error for each kind of bad file', async () => {
    const pdf = minimalPdf(['Hello world']);
    expect(await reasonOf(parseDocument({ data: pdf.slice(0, 120), filename: 'cut.pdf' }))).toMatchObject({
      reason: 'malformed_pdf',
      code: 'invalid_request',
      message: expect.stringContaining('cut.pdf'),
    });
    expect(
      await reasonOf(parseDocument({ data: minimalPdf(['secret'], { encrypt: true }), filename: 'e.pdf' })),
    ).toMatchObject({
      reason: 'encrypted_pdf',
      message: expect.stringContaining('encrypted'),
    });
    expect(await reasonOf(parseDocument({ data: new Uint8Array(), filename: 'empty.md' }))).toMatchObject({
      reason: 'empty',
    });
    expect(await reasonOf(parseDocument({ data: ' \n\t\n', filename: 'blank.txt' }))).toMatchObject({
      reason: 'empty',
    });
    expect(await reasonOf(parseDocument({ data: '---\ntitle: x\n---\n', filename: 'fm.md' }))).toMatchObject({
      reason: 'empty',
    });
    expect(await reasonOf(parseDocument({ data: randomBytes(4096), filename: 'junk.txt' }))).toMatchObject({
      reason: 'binary',
    });
    expect(await reasonOf(parseDocument({ data: randomBytes(4096), filename: 'junk.pdf' }))).toMatchObject({
      reason: 'malformed_pdf',
    });
    expect(await reasonOf(parseDocument({ data: 'a\u0000b', filename: 'nul.md' }))).toMatchObject({
      reason: 'binary',
    });
    expect(await reasonOf(parseDocument({ data: 'x', filename: 'a.docx' }))).toMatchObject({
      reason: 'unsupported_type',
      code: 'unsupported_media_type',
    });
    expect(
      await reasonOf(parseDocument({ data: '---\npublic: yes\n---\nx', filename: 'a.md' })),
    ).toMatchObject({
      reason: 'front_matter',
    });
  });

  it('picks the format from the extension, else the media type', () => {
    expect(formatOf('a.MD')).toBe('markdown');
    expect(formatOf('upload', 'application/pdf; charset=binary')).toBe('pdf');
    expect(formatOf('upload.bin', 'application/octet-stream')).toBeNull();
  });

  it('finds headings at their exact offsets', () => {
    const text = 'intro\n\n## A *b*\n\nx\n\n### [C](http://x) `d`\n';
    const hs = markdownHeadings(text);
    expect(hs.map((h) => h.heading)).toEqual(['A b', 'C d']);
    expect(hs.map((h) => text.slice(h.start, h.start + 3))).toEqual(['## ', '###']);
  });
});
