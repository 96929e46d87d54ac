import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ToolContext, ToolRegistry } from './tools.ts';

const ctx: ToolContext = {
  userId: 'u',
  turnId: 't',
  callId: 'c1',
  access: null,
  citations: [],
  signal: new AbortController().signal,
};

describe('ToolRegistry', () => {
  const registry = new ToolRegistry()
    .register({
      name: 'add',
      description: 'adds',
      parameters: z.object({ a: z.number(), b: z.number() }),
      run: async ({ a, b }) => ({ sum: a + b }),
    })
    .register({
      name: 'flaky',
      description: 'fails',
      parameters: z.object({ retryable: z.boolean() }),
      run: async ({ retryable }) => {
        throw new FleetError(retryable ? 'unavailable' : 'invalid_request', 'boom');
      },
    });

  it('runs a tool with validated arguments', async () => {
    expect(await registry.call('add', '{"a":1,"b":2}', ctx)).toEqual({ ok: true, content: '{"sum":3}' });
  });

  it('gives the model an error it can read for unknown tools, bad JSON and invalid arguments', async () => {
    const unknown = await registry.call('nope', '{}', ctx);
    expect(unknown.ok).toBe(false);
    expect(JSON.parse(unknown.content).error).toMatch(/unknown tool "nope"; available: add, flaky/);
    const badJson = await registry.call('add', '{"a":', ctx);
    expect(JSON.parse(badJson.content).error).toMatch(/not valid JSON/);
    const invalid = await registry.call('add', '{"a":"one"}', ctx);
    expect(JSON.parse(invalid.content).error).toMatch(/invalid arguments for add/);
  });

  it('hides tools the profile does not enable', async () => {
    expect(registry.specs(['add']).map((s) => s.function.name)).toEqual(['add']);
    expect((await registry.call('flaky', '{"retryable":false}', ctx, ['add'])).ok).toBe(false);
  });

  it('returns a non-retryable failure as a tool error and rethrows a retryable one', async () => {
    expect(JSON.parse((await registry.call('flaky', '{"retryable":false}', ctx)).content).error).toMatch(
      /boom/,
    );
    await expect(registry.call('flaky', '{"retryable":true}', ctx)).rejects.toMatchObject({
      code: 'unavailable',
    });
  });

  it('describes arguments to the model as JSON Schema', () => {
    const [add] = registry.specs(['add']);
    expect(add?.function.parameters).toMatchObject({
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'number' } },
      required: ['a', 'b'],
    });
  });
});
