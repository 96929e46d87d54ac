export { buildGateway } from './app.ts';
export { BULL_BOARD_PATH } from './bull-board.ts';
export { createGatewayDeps, type GatewayDeps } from './deps.ts';
export { DOCS_PATH } from './openapi.ts';
export { DEFAULT_AGENT_MODELS, DEFAULT_CHAT_COMPLETION_TIMEOUT_MS } from './routes/openai.ts';
