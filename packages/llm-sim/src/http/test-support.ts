import { afterEach } from 'vitest';
import { type RunningSim, type StartSimOptions, startSim } from '../server.ts';

/** Helpers shared by the HTTP tests: simulators closed after each test, JSON and SSE calls over a real port. */
const running: RunningSim[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

/** A simulator on a random port, closed after the test. Defaults to `timeScale: 0` (no modelled delay). */
export async function sim(opts: StartSimOptions = {}): Promise<RunningSim> {
  const started = await startSim({ port: 0, ...opts, engine: { timeScale: 0, ...opts.engine } });
  running.push(started);
  return started;
}

/** The server root (without `/v1`), where `/health`, `/metrics` and `/sim/*` live. */
export function root(s: RunningSim): string {
  return s.url.replace(/\/v1$/, '');
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });
}

export async function json<T>(res: Response | Promise<Response>): Promise<T> {
  return (await (await res).json()) as T;
}

/** The `data:` payloads of an SSE body, `[DONE]` included, in order. */
export function sseEvents(raw: string): string[] {
  return raw
    .split('\n\n')
    .filter((e) => e.length > 0)
    .map((e) => {
      if (!e.startsWith('data: ')) throw new Error(`not an SSE data event: ${e}`);
      return e.slice('data: '.length);
    });
}

/** Reads a streamed body until it ends or the connection is cut; returns what arrived and whether it was cut. */
export async function readStream(res: Response): Promise<{ text: string; cut: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, cut: false };
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    return { text, cut: true };
  }
}

export interface ChatCompletion {
  id: string;
  choices: {
    message: {
      role: string;
      content: string | null;
      tool_calls: { id: string; type: string; function: { name: string; arguments: string } }[];
    };
    finish_reason: string;
  }[];
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
  };
}

export interface ChatChunk {
  id: string;
  object: string;
  choices: {
    index: number;
    delta: {
      role?: string;
      content?: string;
      tool_calls?: {
        index: number;
        id?: string;
        type?: string;
        function: { name?: string; arguments?: string };
      }[];
    };
    finish_reason: string | null;
  }[];
  usage?: ChatCompletion['usage'] | null;
}
