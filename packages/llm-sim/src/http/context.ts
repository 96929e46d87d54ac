import type { FastifyReply } from 'fastify';
import type { ContentGenerator } from '../content.ts';
import type { Engine } from '../engine/engine.ts';
import type { FaultInjector } from '../faults.ts';
import type { SimMetrics } from '../metrics.ts';
import { type OpenAiErrorType, openAiError } from '../openai-schema.ts';
import type { RequestLog } from '../request-log.ts';
import type { ScriptStore } from '../script.ts';
import type { StatsRecorder } from '../stats.ts';

/** Everything the routes of one simulator share. */
export interface SimContext {
  modelName: string;
  engine: Engine;
  faults: FaultInjector;
  stats: StatsRecorder;
  /** The latest chat requests as received, for `GET /sim/requests`. */
  requests: RequestLog;
  metrics: SimMetrics;
  script: ScriptStore;
  generate: ContentGenerator;
  /** Fires when the app starts closing or dies. */
  shutdown: AbortSignal;
  /** Kills the server at once: every socket destroyed, no longer listening. */
  die(): void;
  /** Counts a request in flight until the returned function is called (closing waits for them). */
  track(): () => void;
}

export function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  type: OpenAiErrorType,
  code: string | null = null,
  param: string | null = null,
): FastifyReply {
  return reply.code(status).send(openAiError(message, type, code, param));
}

export function firstHeader(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first;
}
