import type { Logger } from '@agent-fleet/core';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import { toFleetError } from './errors.ts';

export const BULL_BOARD_PATH = '/admin/queues';

type BoardErrorHandler = Parameters<FastifyAdapter['setErrorHandler']>[0];
type HTTPStatus = NonNullable<ReturnType<BoardErrorHandler>['status']>;

/**
 * Bull Board over every partition queue, mounted at /admin/queues. Its plugin installs its own
 * error handler, which would answer the auth hook's 401/403/429 as 500s; ours replaces it, so the
 * board's routes answer the one error shape with the right status too.
 */
export async function registerBullBoard(
  app: FastifyInstance,
  queues: readonly Queue[],
  logger?: Logger,
): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'agent-fleet' } },
  });
  serverAdapter.setErrorHandler((err) => {
    const fleetErr = toFleetError(err);
    if (fleetErr.status >= 500) logger?.error({ err }, 'Bull Board request failed');
    // Its typings list a few statuses; the adapter sends whichever number it is given.
    return { status: fleetErr.status as HTTPStatus, body: fleetErr.toJSON() };
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
}
