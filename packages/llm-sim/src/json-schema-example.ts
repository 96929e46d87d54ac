/** A JSON schema (draft 2020-12 / OpenAPI subset) as parsed JSON. */
export type JsonSchema = Record<string, unknown> | boolean;

export interface ExampleOptions {
  /** Used for the first free-form string in the output (e.g. the reply text), cut to `maxLength`. */
  text?: string;
}

interface State {
  root: JsonSchema;
  text: string | undefined;
  depth: number;
}

const MAX_DEPTH = 24;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Follows a local `$ref` (`#/$defs/X`, `#/definitions/X`, any JSON pointer into the root). */
function resolveRef(ref: string, root: JsonSchema): JsonSchema {
  if (!ref.startsWith('#')) return {};
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').filter(Boolean)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = isObject(node) ? node[key] : undefined;
  }
  return isObject(node) || typeof node === 'boolean' ? node : {};
}

function typesOf(schema: Record<string, unknown>): string[] {
  const t = schema.type;
  const types = Array.isArray(t)
    ? t.filter((x): x is string => typeof x === 'string')
    : typeof t === 'string'
      ? [t]
      : [];
  if (schema.nullable === true && !types.includes('null')) types.push('null');
  return types;
}

function inferType(schema: Record<string, unknown>): string {
  const types = typesOf(schema).filter((t) => t !== 'null');
  if (types.length > 0) return types[0]!;
  if (schema.properties !== undefined || schema.required !== undefined) return 'object';
  if (schema.items !== undefined || schema.prefixItems !== undefined) return 'array';
  if (schema.minimum !== undefined || schema.maximum !== undefined) return 'number';
  if (schema.minLength !== undefined || schema.maxLength !== undefined || schema.format !== undefined)
    return 'string';
  if (typesOf(schema).includes('null')) return 'null';
  return 'string';
}

function exampleString(schema: Record<string, unknown>, state: State, hint: string): string {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  let s: string;
  switch (schema.format) {
    case 'date-time':
      s = '2024-01-01T00:00:00Z';
      break;
    case 'date':
      s = '2024-01-01';
      break;
    case 'time':
      s = '00:00:00Z';
      break;
    case 'email':
      s = 'user@example.com';
      break;
    case 'uri':
    case 'url':
      s = 'https://example.com/';
      break;
    case 'uuid':
      s = '00000000-0000-4000-8000-000000000000';
      break;
    default:
      if (state.text !== undefined) {
        s = state.text;
        state.text = undefined;
      } else {
        s = hint || 'example';
      }
  }
  const chars = Array.from(s);
  if (chars.length > max) return chars.slice(0, max).join('');
  return chars.length < min ? s + 'x'.repeat(min - chars.length) : s;
}

function exampleNumber(schema: Record<string, unknown>, integer: boolean): number {
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  let lo = num(schema.minimum) ?? Number.NEGATIVE_INFINITY;
  let hi = num(schema.maximum) ?? Number.POSITIVE_INFINITY;
  const exLo = num(schema.exclusiveMinimum);
  const exHi = num(schema.exclusiveMaximum);
  const step = num(schema.multipleOf) ?? (integer ? 1 : undefined);
  const eps = step ?? 0.5;
  if (exLo !== undefined) lo = Math.max(lo, exLo + eps);
  if (exHi !== undefined) hi = Math.min(hi, exHi - eps);
  let v = lo > 0 ? lo : hi < 0 ? hi : integer ? 1 : 1;
  if (v < lo) v = lo;
  if (v > hi) v = hi;
  if (step !== undefined) {
    const up = Math.ceil(v / step) * step;
    v = up <= hi ? up : Math.floor(v / step) * step;
  }
  if (integer) v = Math.ceil(v);
  return v;
}

function generate(schema: JsonSchema, state: State, hint: string): unknown {
  if (schema === true) return exampleString({}, state, hint);
  if (schema === false || state.depth > MAX_DEPTH) return null;
  if (typeof schema.$ref === 'string') {
    state.depth++;
    const target = resolveRef(schema.$ref, state.root);
    const siblings = Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref'));
    const merged = isObject(target) ? { ...target, ...siblings } : target;
    const value = generate(merged, state, hint);
    state.depth--;
    return value;
  }
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = schema[key];
    if (Array.isArray(branches) && branches.length > 0) {
      // Prefer a non-null branch so the output carries content.
      const pick =
        branches.find(
          (b) => !(isObject(b) && (b.type === 'null' || (Array.isArray(b.enum) && b.enum[0] === null))),
        ) ?? branches[0];
      const rest = Object.fromEntries(Object.entries(schema).filter(([k]) => k !== key));
      return generate(isObject(pick) ? { ...rest, ...pick } : (pick as JsonSchema), state, hint);
    }
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length > 0) {
    const merged: Record<string, unknown> = Object.fromEntries(
      Object.entries(schema).filter(([k]) => k !== 'allOf'),
    );
    for (const part of schema.allOf) {
      const resolved =
        isObject(part) && typeof part.$ref === 'string' ? resolveRef(part.$ref, state.root) : part;
      if (!isObject(resolved)) continue;
      merged.properties = { ...(merged.properties as object), ...(resolved.properties as object) };
      merged.required = [
        ...((merged.required as string[] | undefined) ?? []),
        ...((resolved.required as string[] | undefined) ?? []),
      ];
      for (const [k, v] of Object.entries(resolved)) if (!(k in merged)) merged[k] = v;
    }
    return generate(merged, state, hint);
  }
  switch (inferType(schema)) {
    case 'null':
      return null;
    case 'boolean':
      return true;
    case 'integer':
      return exampleNumber(schema, true);
    case 'number':
      return exampleNumber(schema, false);
    case 'array':
      return exampleArray(schema, state, hint);
    case 'object':
      return exampleObject(schema, state);
    default:
      return exampleString(schema, state, hint);
  }
}

function exampleArray(schema: Record<string, unknown>, state: State, hint: string): unknown[] {
  const prefix = Array.isArray(schema.prefixItems) ? (schema.prefixItems as JsonSchema[]) : [];
  const items = (
    isObject(schema.items) || typeof schema.items === 'boolean' ? schema.items : {}
  ) as JsonSchema;
  const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
  const max = typeof schema.maxItems === 'number' ? schema.maxItems : Number.POSITIVE_INFINITY;
  const count = Math.min(
    max,
    Math.max(min, prefix.length, state.depth >= MAX_DEPTH / 2 || items === false ? 0 : 1),
  );
  const out: unknown[] = [];
  state.depth++;
  for (let i = 0; i < count; i++) out.push(generate(i < prefix.length ? prefix[i]! : items, state, hint));
  state.depth--;
  if (schema.uniqueItems === true && out.length > 1) {
    // Distinct values for distinct slots: good enough for strings and numbers.
    return out.map((v, i) => (typeof v === 'string' ? `${v}${i}` : typeof v === 'number' ? v + i : v));
  }
  return out;
}

function exampleObject(schema: Record<string, unknown>, state: State): Record<string, unknown> {
  const props = isObject(schema.properties) ? schema.properties : {};
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
  const out: Record<string, unknown> = {};
  state.depth++;
  const deep = state.depth > MAX_DEPTH / 2;
  for (const [key, sub] of Object.entries(props)) {
    // Deep in a recursive schema, only required properties are filled in, so the output stays finite.
    if (deep && !required.includes(key)) continue;
    out[key] = generate(sub as JsonSchema, state, key);
  }
  for (const key of required) {
    if (!(key in out)) {
      const extra = schema.additionalProperties;
      out[key] = isObject(extra) ? generate(extra, state, key) : key;
    }
  }
  const minProps = typeof schema.minProperties === 'number' ? schema.minProperties : 0;
  for (let i = Object.keys(out).length; i < minProps; i++) out[`field${i}`] = 'example';
  state.depth--;
  return out;
}

/**
 * A value that validates against `schema`: the first `const`/`enum` value, the first non-null
 * `anyOf`/`oneOf` branch, merged `allOf` parts, local `$ref`s, every declared property (required
 * or not), array `minItems` (at least one item), string formats and lengths, number bounds and
 * `multipleOf`, OpenAPI `nullable`. Not covered: `pattern`, `not`, `if/then/else`, `dependentSchemas`.
 */
export function exampleFromSchema(schema: JsonSchema, options: ExampleOptions = {}): unknown {
  return generate(schema, { root: schema, text: options.text, depth: 0 }, '');
}
