import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildSim, type SimOptions } from './app.ts';
import type { Engine } from './engine/engine.ts';

/** Options of {@link startSim}: the app's options plus where to listen. */
export interface StartSimOptions extends SimOptions {
  /** Interface to bind (default `127.0.0.1`). */
  host?: string;
  /** Port to bind (default 0: a random free port). */
  port?: number;
}

/** A listening simulator. */
export interface RunningSim {
  /** Base URL for OpenAI clients, e.g. `http://127.0.0.1:8000/v1`. */
  url: string;
  /** The port actually bound (useful with port 0). */
  port: number;
  app: FastifyInstance;
  /** The simulated engine (its `config`, `stats`). */
  engine: Engine;
  /** Resolves if the simulator dies (`POST /sim/die`, `dieAfterRequests`). */
  died: Promise<void>;
  /** Stops listening; pending requests are cut short. Safe to call more than once, and after dying. */
  close(): Promise<void>;
}

/** A host clients can dial: wildcard binds are reached through loopback, IPv6 gets brackets. */
function dialHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/** Builds a simulator app and listens; resolves once the port is bound. */
export async function startSim(opts: StartSimOptions = {}): Promise<RunningSim> {
  const { host = '127.0.0.1', port = 0, ...simOptions } = opts;
  const { app, engine, died } = buildSim(simOptions);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await app.close();
    throw error;
  }
  const bound = (app.server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${dialHost(host)}:${bound}/v1`,
    port: bound,
    app,
    engine,
    died,
    close: () => {
      closing ??= app.close().catch((error: unknown) => {
        // A dead simulator has already stopped its server; closing it again is not an error.
        if ((error as { code?: string }).code !== 'ERR_SERVER_NOT_RUNNING') throw error;
      });
      return closing;
    },
  };
}
