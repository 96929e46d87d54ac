import { createHash } from 'node:crypto';
import type { ChunkRecord } from './ports.ts';

export const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A UUID-shaped id derived from `parts` (Qdrant point ids must be unsigned integers or UUIDs). */
export function stableUuid(...parts: (string | number)[]): string {
  const h = sha256(parts.join('\u0000'));
  // Version 5 and RFC 4122 variant bits, so strict UUID parsers accept it.
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * What backends index for a chunk: its title and heading path before the text, so a passage deep in
 * a section still matches the words of the headings it sits under. `text` itself stays the
 * document's exact slice, which is what a prompt quotes.
 */
export function indexText(chunk: Pick<ChunkRecord, 'title' | 'sectionPath' | 'text'>): string {
  const context = [chunk.title, ...chunk.sectionPath].filter(Boolean).join(' > ');
  return context ? `${context}\n\n${chunk.text}` : chunk.text;
}
