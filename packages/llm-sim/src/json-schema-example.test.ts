import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleFromSchema, type JsonSchema } from './json-schema-example.ts';

/** Validates with an independent implementation: zod's JSON-schema importer. */
function validates(schema: JsonSchema, value: unknown): boolean {
  const result = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(value);
  if (!result.success) console.error(JSON.stringify(value), result.error.issues);
  return result.success;
}

const cases: Record<string, JsonSchema> = {
  'object with required and optional fields': {
    type: 'object',
    properties: {
      answer: { type: 'string', minLength: 3, maxLength: 40 },
      confidence: { type: 'number', minimum: 0, maximum: 1 },
      count: { type: 'integer', exclusiveMinimum: 5, multipleOf: 3 },
      ok: { type: 'boolean' },
    },
    required: ['answer', 'confidence', 'count'],
    additionalProperties: false,
  },
  'enum, const and nullable': {
    type: 'object',
    properties: {
      label: { enum: ['positive', 'negative'] },
      version: { const: 2 },
      note: { type: ['string', 'null'] },
      legacy: { type: 'string', nullable: true },
    },
    required: ['label', 'version', 'note'],
  },
  'arrays with bounds': {
    type: 'object',
    properties: {
      tags: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 3, uniqueItems: true },
      empty: { type: 'array', items: { type: 'integer' }, maxItems: 0 },
      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
    },
    required: ['tags', 'empty', 'pair'],
  },
  anyOf: {
    type: 'object',
    properties: {
      value: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 10 }] },
      either: { oneOf: [{ type: 'string', format: 'email' }, { type: 'number' }] },
    },
    required: ['value', 'either'],
  },
  'pydantic-style $defs and $ref': {
    $defs: {
      Citation: {
        type: 'object',
        properties: { marker: { type: 'string' }, page: { type: 'integer', minimum: 1 } },
        required: ['marker', 'page'],
      },
    },
    type: 'object',
    properties: {
      answer: { type: 'string' },
      citations: { type: 'array', items: { $ref: '#/$defs/Citation' }, minItems: 1 },
      when: { type: 'string', format: 'date-time' },
    },
    required: ['answer', 'citations'],
  },
  'top-level array': { type: 'array', items: { type: 'number', maximum: -3 }, minItems: 1 },
  'plain string': { type: 'string', maxLength: 5 },
};

describe('exampleFromSchema', () => {
  for (const [name, schema] of Object.entries(cases)) {
    it(`produces a value that validates: ${name}`, () => {
      expect(validates(schema, exampleFromSchema(schema, { text: 'The reply text' }))).toBe(true);
    });
  }

  it('uses a validator that rejects wrong values (control)', () => {
    const quiet = (schema: JsonSchema, value: unknown) =>
      z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(value).success;
    expect(quiet(cases['arrays with bounds']!, { tags: ['a'], empty: [], pair: ['a', 1] })).toBe(false);
    expect(quiet(cases['enum, const and nullable']!, { label: 'meh', version: 2, note: null })).toBe(false);
    expect(
      quiet(cases['pydantic-style $defs and $ref']!, { answer: 'a', citations: [{ marker: '1' }] }),
    ).toBe(false);
  });

  it('puts the given text in the first free-form string, cut to maxLength', () => {
    const value = exampleFromSchema(
      { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } }, required: ['a', 'b'] },
      { text: 'hello world' },
    );
    expect(value).toEqual({ a: 'hello world', b: 'b' });
    expect(exampleFromSchema({ type: 'string', maxLength: 5 }, { text: 'hello world' })).toBe('hello');
  });

  it('terminates on recursive schemas', () => {
    const tree: JsonSchema = {
      $defs: {
        Node: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            children: { type: 'array', items: { $ref: '#/$defs/Node' } },
          },
          required: ['name'],
        },
      },
      $ref: '#/$defs/Node',
    };
    const value = exampleFromSchema(tree);
    expect(validates(tree, value)).toBe(true);
    expect(JSON.stringify(value).length).toBeLessThan(10_000);
  });

  it('accepts boolean schemas and an empty schema', () => {
    expect(exampleFromSchema(true)).toEqual(expect.any(String));
    expect(exampleFromSchema({})).toEqual(expect.any(String));
  });
});
