import { z } from 'zod';
import { VERDICTS } from './statuses.ts';

/**
 * The name of the structured output a review call asks for (`response_format.json_schema.name`).
 * The simulator answers requests of this name with extractive review findings.
 */
export const REVIEW_SCHEMA_NAME = 'document_review';

/** What the model must give for one item. Quotes only: the section of a quote is found by the fleet. */
export const modelFindingSchema = z.strictObject({
  verdict: z.enum(VERDICTS),
  evidence: z.array(z.strictObject({ quote: z.string().min(1) })).max(10),
  rationale: z.string().min(1),
  confidence: z.number().min(0).max(1),
});
export type ModelFinding = z.infer<typeof modelFindingSchema>;

/**
 * The JSON schema of a reply about `itemIds`: one finding per item, keyed by item id, every item
 * required and no other key, so structured outputs (vLLM) make the model answer each item once.
 */
export function reviewJsonSchema(itemIds: readonly string[]): Record<string, unknown> {
  const finding = z.toJSONSchema(modelFindingSchema, { target: 'draft-7' }) as Record<string, unknown>;
  delete finding.$schema;
  return {
    type: 'object',
    properties: {
      findings: {
        type: 'object',
        properties: Object.fromEntries(itemIds.map((id) => [id, finding])),
        required: [...itemIds],
        additionalProperties: false,
      },
    },
    required: ['findings'],
    additionalProperties: false,
  };
}

/** `response_format` for a review call about `itemIds` (OpenAI's json_schema, strict). */
export function reviewResponseFormat(itemIds: readonly string[]) {
  return {
    type: 'json_schema' as const,
    json_schema: { name: REVIEW_SCHEMA_NAME, strict: true, schema: reviewJsonSchema(itemIds) },
  };
}

export type ParsedReply = { ok: true; findings: Map<string, ModelFinding> } | { ok: false; problem: string };

/**
 * A model reply checked with zod: valid JSON, `findings` with exactly `itemIds`, each finding of the
 * right shape. Never throws; a bad reply says what was wrong, for the re-ask.
 */
export function parseReviewReply(content: string, itemIds: readonly string[]): ParsedReply {
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch (err) {
    return { ok: false, problem: `the reply is not valid JSON (${(err as Error).message})` };
  }
  const shape = z.strictObject({
    findings: z.strictObject(Object.fromEntries(itemIds.map((id) => [id, modelFindingSchema]))),
  });
  const parsed = shape.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.join('.') || '(reply)'}: ${i.message}`);
    return { ok: false, problem: `the reply does not follow the schema: ${first.join('; ')}` };
  }
  return { ok: true, findings: new Map(Object.entries(parsed.data.findings) as [string, ModelFinding][]) };
}
