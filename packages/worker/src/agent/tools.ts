import { FleetError, TOOL_NAME_PATTERN } from '@agent-fleet/core';
import type { ToolSpec } from '@agent-fleet/llm';
import type { Citation, EmbeddingUsageListener, UserAccess } from '@agent-fleet/rag';
import { z } from 'zod';

/** What a tool knows of the turn calling it. */
export interface ToolContext {
  userId: string;
  turnId: string;
  /** The model's id for this call: with turnId, what makes a side effect idempotent. */
  callId: string;
  /** From the user's stored profile; null when the user has none (no document access). */
  access: UserAccess | null;
  /** The turn's citations so far; tools that show passages add theirs (markers continue). */
  citations: Citation[];
  signal: AbortSignal;
  /** Told what an embeddings request a tool made cost (charged to the turn). */
  onEmbeddingUsage?: EmbeddingUsageListener;
}

export interface ToolDefinition<S extends z.ZodType = z.ZodType> {
  name: string;
  description: string;
  parameters: S;
  run(args: z.infer<S>, ctx: ToolContext): Promise<unknown>;
}

export interface ToolResult {
  ok: boolean;
  /** What goes back to the model as the tool message. */
  content: string;
}

/**
 * The tools an agent may call, each with a zod schema for its arguments. A call with unknown
 * name, unparsable or invalid arguments, or a non-retryable failure becomes a tool error the model
 * reads and can correct, never a crash; a retryable failure (a store down) fails the step so the
 * turn is retried from its last checkpoint.
 */
export class ToolRegistry {
  readonly #tools = new Map<string, ToolDefinition>();
  /** Specs by enabled set: turning zod schemas into JSON Schema on every model call is not free. */
  readonly #specs = new Map<string, ToolSpec[]>();

  register<S extends z.ZodType>(def: ToolDefinition<S>): this {
    if (!TOOL_NAME_PATTERN.test(def.name)) throw new Error(`invalid tool name: ${def.name}`);
    if (this.#tools.has(def.name)) throw new Error(`tool ${def.name} is registered twice`);
    this.#tools.set(def.name, def as unknown as ToolDefinition);
    this.#specs.clear();
    return this;
  }

  names(): string[] {
    return [...this.#tools.keys()];
  }

  /** OpenAI tool specs of the enabled tools (all when `enabled` is undefined). */
  specs(enabled?: readonly string[]): ToolSpec[] {
    const key = enabled ? enabled.join(',') : '*';
    const cached = this.#specs.get(key);
    if (cached) return cached;
    const specs = [...this.#tools.values()]
      .filter((t) => !enabled || enabled.includes(t.name))
      .map((t) => ({
        type: 'function' as const,
        function: {
          name: t.name,
          description: t.description,
          parameters: z.toJSONSchema(t.parameters, { target: 'draft-7' }) as Record<string, unknown>,
        },
      }));
    this.#specs.set(key, specs);
    return specs;
  }

  async call(
    name: string,
    rawArgs: string,
    ctx: ToolContext,
    enabled?: readonly string[],
  ): Promise<ToolResult> {
    const tool = this.#tools.get(name);
    if (!tool || (enabled && !enabled.includes(name))) {
      return error(`unknown tool "${name}"; available: ${(enabled ?? this.names()).join(', ')}`);
    }
    let json: unknown;
    try {
      json = rawArgs.trim() === '' ? {} : JSON.parse(rawArgs);
    } catch {
      return error(`the arguments of ${name} are not valid JSON: ${rawArgs.slice(0, 200)}`);
    }
    const parsed = tool.parameters.safeParse(json);
    if (!parsed.success) {
      return error(`invalid arguments for ${name}: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}`);
    }
    try {
      const out = await tool.run(parsed.data, ctx);
      return { ok: true, content: typeof out === 'string' ? out : JSON.stringify(out) };
    } catch (err) {
      if (err instanceof FleetError && !err.isRetryable) return error(`${name} failed: ${err.message}`);
      throw err;
    }
  }
}

function error(message: string): ToolResult {
  return { ok: false, content: JSON.stringify({ error: message }) };
}
