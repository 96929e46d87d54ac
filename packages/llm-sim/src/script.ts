import { z } from 'zod';

const scriptToolCallSchema = z.strictObject({
  name: z.string().min(1),
  /** An object is serialized with JSON.stringify; a string is sent as is (it may be malformed on purpose). */
  arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).default({}),
  id: z.string().min(1).optional(),
});

/**
 * One scripted reply. `match` criteria must ALL hold (none given: matches any request): `user` is
 * the body `user` field or the `x-user-id` header, `contains` a case-sensitive substring of the
 * last user message (of the prompt for `/v1/completions`). `reply` is the assistant text, tool
 * calls (finish reason `tool_calls`), or `{ raw }`: text sent verbatim even when the request asked
 * for JSON or tools, to simulate malformed output (truncated JSON, a tool call written as text).
 * A fixture serves `times` requests (default 1), then is used up.
 */
export const scriptFixtureSchema = z.strictObject({
  match: z
    .strictObject({ user: z.string().min(1).optional(), contains: z.string().min(1).optional() })
    .optional(),
  reply: z.union([
    z.string(),
    z.strictObject({ tool_calls: z.array(scriptToolCallSchema).min(1) }),
    z.strictObject({ raw: z.string() }),
  ]),
  times: z.number().int().min(1).max(1_000_000).default(1),
});
export type ScriptFixture = z.input<typeof scriptFixtureSchema>;
type ParsedFixture = z.output<typeof scriptFixtureSchema>;
export type ScriptReply = ParsedFixture['reply'];

export const scriptSchema = z.array(scriptFixtureSchema).max(10_000);

/** What a fixture is matched against. */
export interface ScriptSubject {
  user: string | undefined;
  text: string;
}

/** The fixtures of `script` mode, consumed in order: the first matching fixture with uses left answers. */
export class ScriptStore {
  #fixtures: ParsedFixture[] = [];

  /** Replaces every fixture. Throws a ZodError on a malformed list. */
  replace(fixtures: readonly ScriptFixture[]): void {
    this.#fixtures = scriptSchema.parse(fixtures);
  }

  /** The fixtures not used up yet, with their remaining `times`. */
  remaining(): ParsedFixture[] {
    return structuredClone(this.#fixtures);
  }

  /** Takes one use of the first fixture matching `subject`; undefined when none matches. */
  take(subject: ScriptSubject): ScriptReply | undefined {
    const i = this.#fixtures.findIndex((f) => {
      const m = f.match;
      if (!m) return true;
      if (m.user !== undefined && m.user !== subject.user) return false;
      if (m.contains !== undefined && !subject.text.includes(m.contains)) return false;
      return true;
    });
    if (i < 0) return undefined;
    const fixture = this.#fixtures[i]!;
    if (--fixture.times <= 0) this.#fixtures.splice(i, 1);
    return fixture.reply;
  }
}
