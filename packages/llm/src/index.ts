export { type ChatRequest, type ChatResult, LlmClient, type LlmClientOptions } from './client.ts';
