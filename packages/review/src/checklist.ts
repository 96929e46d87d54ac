import { FleetError, storable } from '@agent-fleet/core';
import { parseDocument as parseYaml } from 'yaml';
import { z } from 'zod';

export const CHECKLIST_ITEM_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const MAX_CHECKLIST_ITEMS = 200;

const text = (max: number, what: string) =>
  storable(
    z
      .string({ error: `${what} must be a string` })
      .trim()
      .min(1, `${what} must not be empty`)
      .max(max),
  );

/** One requirement to check each document against. */
export const checklistItemSchema = z.strictObject({
  id: z
    .string({ error: 'id must be a string' })
    .regex(
      CHECKLIST_ITEM_ID,
      'id must be 1-64 characters of letters, digits and ._- starting with a letter or digit',
    ),
  requirement: text(2000, 'requirement'),
  /**
   * The policy the requirement comes from: a docId in the user's tenant (optionally `docId#Section`),
   * or words to find it by. Its passages go into the prompt under the run user's ACL.
   */
  policyRef: text(300, 'policyRef').optional(),
});
export type ChecklistItem = z.infer<typeof checklistItemSchema>;

export const checklistSchema = z
  .strictObject({
    name: text(200, 'name').optional(),
    items: z
      .array(checklistItemSchema, { error: 'items must be a list of { id, requirement, policyRef? }' })
      .min(1, 'a checklist needs at least one item')
      .max(MAX_CHECKLIST_ITEMS, `a checklist has at most ${MAX_CHECKLIST_ITEMS} items`),
  })
  .superRefine((checklist, ctx) => {
    const seen = new Set<string>();
    checklist.items.forEach((item, i) => {
      if (seen.has(item.id))
        ctx.addIssue({ code: 'custom', path: ['items', i, 'id'], message: `duplicate item id ${item.id}` });
      seen.add(item.id);
    });
  });
export type Checklist = z.infer<typeof checklistSchema>;

/** One thing wrong with a request, located by its path (`body.checklist.items.2.id`). */
export interface FieldIssue {
  field: string;
  message: string;
}

/** The 400 listing every issue, field by field, in the gateway's error shape (`details.issues`). */
export function invalidFields(issues: FieldIssue[]): FleetError {
  return new FleetError('invalid_request', issues.map((i) => `${i.field}: ${i.message}`).join('; '), {
    details: { issues },
  });
}

/** `root.a.0.b` for a zod issue path. */
export function fieldOf(root: string, path: readonly PropertyKey[]): string {
  return [root, ...path.map(String)].filter((p) => p !== '').join('.');
}

/**
 * A checklist from a parsed value or from YAML or JSON text (JSON is YAML too), checked with zod.
 * Throws a 400 `invalid_request` whose `details.issues` name every bad field under `field`, or the
 * line and column of a syntax error.
 */
export function parseChecklist(input: unknown, field = 'checklist'): Checklist {
  let value = input;
  if (typeof input === 'string') {
    const doc = parseYaml(input, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0)
      throw invalidFields(
        doc.errors.map((e) => ({ field, message: `not valid YAML or JSON: ${e.message.split('\n')[0]}` })),
      );
    value = doc.toJS({ maxAliasCount: 100 });
  }
  const parsed = checklistSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw invalidFields(
    parsed.error.issues.map((i) => ({ field: fieldOf(field, i.path), message: i.message })),
  );
}
