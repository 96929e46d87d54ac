/** Default embedding width (the size of small sentence-embedding models such as all-MiniLM-L6-v2). */
export const DEFAULT_EMBEDDING_DIMENSIONS = 384;

/** FNV-1a, 32 bits: a stable hash for feature hashing. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function addFeature(vector: Float64Array, feature: string, weight: number): void {
  const h = fnv1a(feature);
  const sign = (fnv1a(`${feature}\u0001`) & 1) === 0 ? 1 : -1;
  vector[h % vector.length]! += sign * weight;
}

/**
 * A deterministic unit-length embedding by feature hashing: each lowercased word adds ±1 to a
 * hashed coordinate and each pair of adjacent words ±0.5, then the vector is L2-normalized.
 * Texts sharing words therefore have a high cosine similarity, texts sharing none about zero;
 * the same text always gets the same vector. A text with no words gets a fixed unit vector.
 */
export function embedText(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  const vector = new Float64Array(dimensions);
  const words = Array.from(text.toLowerCase().matchAll(/[\p{L}\p{N}]+/gu), (m) => m[0]);
  words.forEach((w, i) => {
    addFeature(vector, `w:${w}`, 1);
    if (i > 0) addFeature(vector, `b:${words[i - 1]} ${w}`, 0.5);
  });
  let norm = 0;
  for (const v of vector) norm += v * v;
  if (norm === 0) {
    vector[0] = 1;
    norm = 1;
  }
  const scale = 1 / Math.sqrt(norm);
  return Array.from(vector, (v) => v * scale);
}

/** Float32 little-endian bytes in base64: OpenAI's `encoding_format: "base64"`. */
export function embeddingToBase64(vector: readonly number[]): string {
  const buf = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) buf.writeFloatLE(vector[i]!, i * 4);
  return buf.toString('base64');
}
