export { buildSim, buildSimApp, DEFAULT_MODEL, type SimInstance, type SimOptions } from './app.ts';
export { renderChatPrompt } from './chat-template.ts';
export {
  CONTENT_MODES,
  type ContentGenerator,
  type ContentMode,
  type ContentReply,
  type ContentRequest,
} from './content.ts';
export { DEFAULT_EMBEDDING_DIMENSIONS, embedText } from './embeddings.ts';
export { type CancelTimer, type Clock, realClock, VirtualClock } from './engine/clock.ts';
export {
  DEFAULT_ENGINE_CONFIG,
  type EngineCapacity,
  type EngineConfig,
  engineCapacity,
  loadFactor,
  resolveEngineConfig,
  stepDurationMs,
} from './engine/config.ts';
export {
  Engine,
  type EngineObserver,
  type EngineStats,
  type SequenceHandle,
  type SequenceListener,
  type SequenceResult,
} from './engine/engine.ts';
export type { FinishReason, SequenceSpec } from './engine/sequence.ts';
export { type FaultConfig, type FaultConfigPatch, type FaultRule, MAX_DELAY_MS } from './faults.ts';
export { exampleFromSchema, type JsonSchema } from './json-schema-example.ts';
export { createPrng, type Prng, randomSeed } from './prng.ts';
export type { LoggedRequest } from './request-log.ts';
export type { ScriptFixture } from './script.ts';
export { type RunningSim, type StartSimOptions, startSim } from './server.ts';
export type { SimStats } from './stats.ts';
