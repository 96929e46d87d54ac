import { FleetError } from '@agent-fleet/core';
import { convert } from 'html-to-text';
import { marked } from 'marked';
import { extractText, getDocumentProxy } from 'unpdf';
import { type FrontMatter, splitFrontMatter } from './front-matter.ts';

export type DocumentFormat = 'text' | 'markdown' | 'html' | 'pdf';

/** A heading found in a document's text: it opens a section at `start`. */
export interface HeadingMark {
  start: number;
  level: number;
  heading: string;
}

export interface ParsedDocument {
  format: DocumentFormat;
  /** The text that chunks slice: Markdown as written (without front matter), HTML and PDF as extracted. */
  text: string;
  headings: HeadingMark[];
  /** From front matter, else the first level-1 heading, else an HTML `<title>`. */
  title?: string;
  meta: FrontMatter;
}

export type ParseFailure =
  | 'empty'
  | 'binary'
  | 'malformed_pdf'
  | 'encrypted_pdf'
  | 'unsupported_type'
  | 'front_matter';

/** A file that cannot be ingested, with the reason; ingestion reports it and goes on with the rest. */
export class ParseError extends FleetError {
  readonly reason: ParseFailure;

  constructor(reason: ParseFailure, message: string, opts: { cause?: unknown; file?: string } = {}) {
    super(reason === 'unsupported_type' ? 'unsupported_media_type' : 'invalid_request', message, {
      retryable: false,
      details: { reason, ...(opts.file ? { file: opts.file } : {}) },
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
    });
    this.name = 'ParseError';
    this.reason = reason;
  }
}

const EXTENSIONS: Record<string, DocumentFormat> = {
  '.txt': 'text',
  '.text': 'text',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.html': 'html',
  '.htm': 'html',
  '.pdf': 'pdf',
};
const MIME_TYPES: Record<string, DocumentFormat> = {
  'text/plain': 'text',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/pdf': 'pdf',
};

export const SUPPORTED_EXTENSIONS = Object.keys(EXTENSIONS);

/** The format from the file name's extension, else the media type; null when neither is known. */
export function formatOf(filename?: string, mime?: string): DocumentFormat | null {
  const ext = filename ? /\.[^./\\]+$/.exec(filename.toLowerCase())?.[0] : undefined;
  if (ext && EXTENSIONS[ext]) return EXTENSIONS[ext];
  const type = mime?.split(';')[0]?.trim().toLowerCase();
  return (type && MIME_TYPES[type]) || null;
}

export interface ParseInput {
  data: Uint8Array | string;
  filename?: string;
  mime?: string;
  /** Overrides detection from `filename` and `mime`. */
  format?: DocumentFormat;
}

/**
 * Extracts text and heading structure. Throws `ParseError` for an empty file, binary junk, a
 * malformed or encrypted PDF, or an unknown type, with a message that names the file.
 */
export async function parseDocument(input: ParseInput): Promise<ParsedDocument> {
  const file = input.filename ?? 'document';
  const format = input.format ?? formatOf(input.filename, input.mime);
  if (!format)
    throw new ParseError(
      'unsupported_type',
      `${file}: unsupported type (expected ${SUPPORTED_EXTENSIONS.join(', ')})`,
      { file },
    );
  if ((typeof input.data === 'string' ? input.data.length : input.data.byteLength) === 0)
    throw new ParseError('empty', `${file}: the file is empty`, { file });
  if (format === 'pdf') return parsePdf(input.data, file);
  const source = typeof input.data === 'string' ? input.data : decodeText(input.data, file);
  if (looksBinary(source))
    throw new ParseError('binary', `${file}: binary content, not ${format} text`, { file });
  const parsed =
    format === 'markdown'
      ? parseMarkdown(source, file)
      : format === 'html'
        ? parseHtml(source)
        : {
            format,
            text: normalise(source),
            headings: [],
            meta: {},
          };
  if (parsed.text.trim() === '') throw new ParseError('empty', `${file}: no text to ingest`, { file });
  return parsed;
}

function decodeText(data: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(data);
  } catch (cause) {
    throw new ParseError('binary', `${file}: not valid UTF-8 text (binary content?)`, { cause, file });
  }
}

function looksBinary(s: string): boolean {
  if (s.includes('\u0000')) return true;
  const sample = s.slice(0, 8192);
  let control = 0;
  for (const ch of sample) {
    const c = ch.charCodeAt(0);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) || c === 0xfffd) control++;
  }
  return control > sample.length * 0.02;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** One line ending, no NUL, well-formed UTF-16: what both backends store without surprise. */
function normalise(s: string): string {
  return s
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .replaceAll('\u0000', ' ')
    .replace(LONE_SURROGATE, '\uFFFD');
}

function parseMarkdown(source: string, file: string): ParsedDocument {
  let split: ReturnType<typeof splitFrontMatter>;
  try {
    split = splitFrontMatter(normalise(source));
  } catch (cause) {
    throw new ParseError('front_matter', `${file}: ${(cause as Error).message}`, { cause, file });
  }
  const text = split.body;
  const headings = markdownHeadings(text);
  const h1 = headings.find((h) => h.level === 1)?.heading;
  const title = split.meta.title ?? h1;
  return { format: 'markdown', text, headings, ...(title ? { title } : {}), meta: split.meta };
}

/** Headings with their offsets, from marked's lexer (so code blocks and setext headings are right). */
export function markdownHeadings(text: string): HeadingMark[] {
  const out: HeadingMark[] = [];
  let offset = 0;
  for (const token of marked.lexer(text)) {
    const at = text.startsWith(token.raw, offset) ? offset : text.indexOf(token.raw, offset);
    if (at < 0) break;
    if (token.type === 'heading') {
      const heading = plainInline((token as { text: string }).text);
      if (heading) out.push({ start: at, level: (token as { depth: number }).depth, heading });
    }
    offset = at + token.raw.length;
  }
  return out;
}

const plainInline = (s: string) =>
  s
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/[*_`~]+/g, '')
    .replace(/\s+/g, ' ')
    .trim();

function parseHtml(source: string): ParsedDocument {
  const htmlTitle = /<title[^>]*>([^<]*)<\/title>/i.exec(source)?.[1]?.trim();
  const heading = (level: number) => ({ selector: `h${level}`, format: 'mdHeading', options: { level } });
  const text = normalise(
    convert(source, {
      wordwrap: false,
      selectors: [
        ...[1, 2, 3, 4, 5, 6].map(heading),
        { selector: 'a', options: { ignoreHref: true } },
        { selector: 'img', format: 'skip' },
        { selector: 'nav', format: 'skip' },
      ],
      formatters: {
        // Headings as Markdown ATX headings, so the Markdown heading finder gives sections.
        mdHeading(elem, walk, builder, formatOptions) {
          builder.openBlock({ leadingLineBreaks: 2 });
          builder.addInline(`${'#'.repeat(Number((formatOptions as { level?: number }).level ?? 1))} `);
          walk(elem.children, builder);
          builder.closeBlock({ trailingLineBreaks: 2 });
        },
      },
    }),
  );
  const headings = markdownHeadings(text);
  const title = htmlTitle || headings.find((h) => h.level === 1)?.heading;
  return { format: 'html', text, headings, ...(title ? { title } : {}), meta: {} };
}

async function parsePdf(data: Uint8Array | string, file: string): Promise<ParsedDocument> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
  let pages: string[];
  try {
    const pdf = await getDocumentProxy(bytes, { verbosity: 0 });
    pages = (await extractText(pdf, { mergePages: false })).text;
  } catch (cause) {
    const name = (cause as Error)?.name;
    if (name === 'PasswordException')
      throw new ParseError('encrypted_pdf', `${file}: the PDF is encrypted (password protected)`, {
        cause,
        file,
      });
    throw new ParseError(
      'malformed_pdf',
      `${file}: not a readable PDF (${(cause as Error)?.message ?? cause})`,
      {
        cause,
        file,
      },
    );
  }
  // Each page opens a section "Page n", so citations can point at pages.
  const headings: HeadingMark[] = [];
  let text = '';
  pages.forEach((page, i) => {
    const clean = normalise(page).trim();
    if (!clean) return;
    if (text) text += '\n\n';
    headings.push({ start: text.length, level: 1, heading: `Page ${i + 1}` });
    text += clean;
  });
  if (!text.trim())
    throw new ParseError('empty', `${file}: the PDF has no extractable text (scanned?)`, { file });
  return { format: 'pdf', text, headings, meta: {} };
}
