export { buildGateway } from './app.ts';
export { BULL_BOARD_PATH } from './bull-board.ts';
export { createGatewayDeps, type GatewayDeps } from './deps.ts';
