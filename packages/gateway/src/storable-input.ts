import { FleetError, findNul, hasNul, NUL_REFUSED } from '@agent-fleet/core';
import type { FastifyRequest, preValidationAsyncHookHandler } from 'fastify';

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** `body.messages.1.content`, or `body["odd key"]` for a key that is not an identifier. */
export function fieldPath(root: string, path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (out, p) =>
      typeof p === 'number' || IDENTIFIER.test(p) ? `${out}.${p}` : `${out}[${JSON.stringify(p)}]`,
    root,
  );
}

/** The 400 for a field holding a NUL, in the shape schema validation errors have (`details.issues`). */
export function nulRefused(field: string): FleetError {
  return new FleetError('invalid_request', `${field} ${NUL_REFUSED}`, {
    details: { issues: [{ field, message: NUL_REFUSED }] },
  });
}

/** Throws `nulRefused` when `value` (a multipart field, a file name, …) holds a NUL. */
export function assertStorable(field: string, value: string): void {
  if (hasNul(value)) throw nulRefused(field);
}

const PARTS = ['params', 'query', 'body'] as const satisfies readonly (keyof FastifyRequest)[];

/**
 * Refuses, before any route validates or handles it, a request whose route parameters, query or
 * parsed body hold U+0000 anywhere (a string or a key): 400 `invalid_request` naming the field.
 * Postgres cannot store NUL, so such input accepted at the door would fail later, when its turn,
 * profile or document is written. A hook on the whole app, so a new route cannot forget it;
 * multipart bodies are read by their route, which checks each field with `assertStorable`.
 */
export const refuseUnstorableInput: preValidationAsyncHookHandler = async (req) => {
  for (const part of PARTS) {
    const path = findNul(req[part]);
    if (path) throw nulRefused(fieldPath(part, path));
  }
};
