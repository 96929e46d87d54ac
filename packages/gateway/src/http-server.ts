import { type ServerOptions, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { FleetError, type Logger } from '@agent-fleet/core';
import type { FastifyServerOptions } from 'fastify';
import { type TrustProxy, trustProxy } from './trust-proxy.ts';

/** The settings the HTTP server reads (the matching FleetConfig fields). */
export interface HttpServerConfig {
  HTTP_HEADERS_TIMEOUT_MS: number;
  HTTP_REQUEST_TIMEOUT_MS: number;
  HTTP_IDLE_TIMEOUT_MS: number;
  TRUST_PROXY: string;
}

/** The Fastify options `httpServerOptions` sets. */
export interface HttpServerOptions {
  http: ServerOptions;
  requestTimeout: number;
  connectionTimeout: number;
  trustProxy: TrustProxy;
  clientErrorHandler: NonNullable<FastifyServerOptions['clientErrorHandler']>;
}

/**
 * How often Node looks for requests past their timeouts (its default is 30 s, which would let a
 * request live up to 30 s longer than allowed).
 */
const TIMEOUT_CHECK_MS = 1000;

/**
 * Fastify options of the gateway's HTTP server: a request's headers must arrive within
 * HTTP_HEADERS_TIMEOUT_MS and the whole request within HTTP_REQUEST_TIMEOUT_MS, credential or
 * not, so a client trickling bytes (a slow loris) cannot hold a connection; a connection silent
 * both ways for HTTP_IDLE_TIMEOUT_MS is closed. What Node's parser refuses before Fastify sees it
 * (timeouts, oversized headers, bytes that are not HTTP) is answered in the one error shape.
 */
export function httpServerOptions(config: HttpServerConfig, logger: Logger): HttpServerOptions {
  return {
    http: {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS, config.HTTP_HEADERS_TIMEOUT_MS),
    },
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    trustProxy: trustProxy(config.TRUST_PROXY),
    clientErrorHandler: (err, socket) => answerClientError(err, socket, logger),
  };
}

/** What Node's HTTP parser or its timers reported, as the error the client gets. */
export function clientErrorOf(err: NodeJS.ErrnoException): FleetError {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return new FleetError(
      'request_timeout',
      'the request did not arrive in time; send it whole and promptly',
    );
  if (err.code === 'HPE_HEADER_OVERFLOW')
    return new FleetError('headers_too_large', 'the request headers are too large');
  return new FleetError('invalid_request', `the request is not valid HTTP/1.1 (${err.code ?? 'unknown'})`);
}

/**
 * Answers a client error on the raw socket (Fastify has no request for it) and closes the
 * connection; when a response was already under way on it, the connection is only closed.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error = clientErrorOf(err);
  logger.debug({ code: err.code, status: error.status }, 'client error');
  const underway = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !underway) {
    const body = JSON.stringify(error.toJSON());
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
