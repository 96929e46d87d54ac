import { describe, expect, it } from 'vitest';
import { turnJobSchema } from './job.ts';
import {
  contextOfCarrier,
  currentTraceCarrier,
  inSpan,
  linkToCarrier,
  pastSpan,
  traceLogFields,
} from './tracing.ts';

const job = {
  v: 1,
  kind: 'chat',
  userId: 'alice',
  seq: 1,
  turnId: `t_${'a'.repeat(32)}`,
  text: 'hi',
  enqueuedAt: 1,
};
const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('turn jobs carry their trace', () => {
  it('keeps a W3C trace context and the last delivery', () => {
    const trace = { traceparent, delivery: '00-4bf92f3577b34da6a3ce929d0e0e4736-53995c3f42cd8ad8-01' };
    expect(turnJobSchema.parse({ ...job, trace }).trace).toEqual(trace);
  });

  it.each([{ traceparent: 'not one' }, 'text', { traceparent, tracestate: 'x'.repeat(600) }])(
    'drops a malformed one (%o) and keeps the turn',
    (trace) => {
      const parsed = turnJobSchema.safeParse({ ...job, trace });
      expect(parsed.success).toBe(true);
      expect(parsed.data?.trace).toBeUndefined();
    },
  );
});

describe('without the SDK, tracing is a no-op', () => {
  it('records nothing, propagates nothing, links nothing, logs no trace id', async () => {
    await inSpan('turn.delivery', {}, async (span) => {
      expect(span.isRecording()).toBe(false);
      expect(currentTraceCarrier()).toBeUndefined();
      expect(traceLogFields()).toEqual({});
      pastSpan('turn.queue', 0, 1);
    });
    expect(linkToCarrier({ traceparent })).toEqual([]);
    expect(contextOfCarrier(undefined)).toBe(contextOfCarrier({ traceparent }));
  });
});
