import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * User ids go inside Redis hash tags and BullMQ job data, so they exclude `{`, `}`, `:` and
 * whitespace: letters, digits and `._@+-`, 1 to 128 characters, starting with a letter or digit.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
export const userIdSchema = z
  .string()
  .regex(
    USER_ID_PATTERN,
    'userId must be 1-128 characters of letters, digits and ._@+- starting with a letter or digit',
  );

/** A random id: `prefix`, `_` and 32 hex digits, free of `:` so it can serve as a BullMQ job id. */
export const newPrefixedId = (prefix: string): string => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** What the ids `newPrefixedId(prefix)` makes look like. */
export const prefixedIdPattern = (prefix: string): RegExp => new RegExp(`^${prefix}_[0-9a-f]{32}$`);

/** Turn ids double as BullMQ job ids, which must not contain `:`. */
export const TURN_ID_PATTERN = prefixedIdPattern('t');
export const turnIdSchema = z
  .string()
  .regex(TURN_ID_PATTERN, 'turnId must look like t_ followed by 32 hex digits');
export const newTurnId = (): string => newPrefixedId('t');

export const threadIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,128}$/, 'threadId must be 1-128 characters of letters, digits and ._-');

export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1-255 printable ASCII characters without spaces');
