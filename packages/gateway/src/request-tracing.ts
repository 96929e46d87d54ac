import { ATTR, fleetTracer, markFailed, type Span, SpanKind } from '@agent-fleet/core';
import { type Context, context, propagation, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import fp from 'fastify-plugin';

/** Routes too frequent and too plain to trace: probes and scrapes. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

interface Traced {
  span: Span;
  context: Context;
}

/**
 * A server span per request (`POST /v1/users/:userId/messages`), continuing the caller's trace when
 * it sent a `traceparent`, and active while the route runs, so what the request starts (the turn it
 * accepts, whose context travels in the job) belongs to it. Nothing is made when tracing is off.
 */
async function requestTracing(app: FastifyInstance): Promise<void> {
  const traced = new WeakMap<FastifyRequest, Traced>();
  app.addHook('onRequest', (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const route = req.routeOptions.url;
    if (route === undefined || UNTRACED.has(route)) return done();
    const parent = propagation.extract(context.active(), req.headers);
    const span = fleetTracer().startSpan(
      `${req.method} ${route}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': req.method,
          'http.route': route,
          'url.path': req.url.split('?')[0],
        },
      },
      parent,
    );
    if (!span.isRecording()) return done();
    const ctx = trace.setSpan(parent, span);
    traced.set(req, { span, context: ctx });
    context.with(ctx, done);
  });
  // The body is read between the hooks, outside the request's context: the handler gets it back here.
  app.addHook('preHandler', (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const t = traced.get(req);
    if (t) context.with(t.context, done);
    else done();
  });
  app.addHook('onResponse', async (req, reply) => {
    const t = traced.get(req);
    if (!t) return;
    t.span.setAttribute('http.response.status_code', reply.statusCode);
    const userId = (req.params as { userId?: unknown } | undefined)?.userId;
    if (typeof userId === 'string') t.span.setAttribute(ATTR.userId, userId);
    if (reply.statusCode >= 500) markFailed(t.span, new Error(`HTTP ${reply.statusCode}`));
    t.span.end();
  });
  app.addHook('onRequestAbort', async (req) => {
    const t = traced.get(req);
    if (!t) return;
    t.span.setAttribute('fleet.http.aborted', true);
    t.span.end();
  });
}

export const requestTracingPlugin = fp(requestTracing, { name: 'request-tracing', fastify: '5.x' });
