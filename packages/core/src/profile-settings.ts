import { z } from 'zod';

/**
 * What to do with a message that arrives while the user's previous turn is queued or running:
 * `enqueue` (run it after, in order), `reject` (refuse it: 409 with the turn in progress),
 * `interrupt` (the running turn stops at its next step boundary and this one runs next),
 * `coalesce` (the user's messages not started yet run as one turn).
 */
export const doubleTextingSchema = z.enum(['enqueue', 'reject', 'interrupt', 'coalesce']);
export type DoubleTexting = z.infer<typeof doubleTextingSchema>;

/** Tool names as the OpenAI API allows them; the worker's tool registry holds to the same rule. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The agent settings a profile carries (a user's own, or a tenant default). The gateway accepts
 * them through this schema, Postgres stores what it accepted, and the worker reads them back
 * through it too, so a setting that is stored is a setting the agent runs with.
 */
export const profileSettingsSchema = z.object({
  model: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('the model the agent asks for (default: the deployment’s)'),
  temperature: z.number().min(0).max(2).optional().describe('sampling temperature (default: the server’s)'),
  tools: z
    .array(z.string().regex(TOOL_NAME_PATTERN, 'tool names are 1-64 letters, digits, _ and -'))
    .max(64)
    .optional()
    .describe('the tools the agent may call (default: all)'),
  doubleTexting: doubleTextingSchema.optional().describe('the default for new messages'),
});
export type ProfileSettings = z.infer<typeof profileSettingsSchema>;
