import { join } from 'node:path';
import { emitKeypressEvents } from 'node:readline';
import { stripVTControlCharacters } from 'node:util';
import { type FleetSnapshot, fleetSnapshotSchema } from '@agent-fleet/core';
import { REPO_ROOT } from '../../paths.ts';
import { readStackFile } from '../../stack-file.ts';
import { readDevCredentials } from '../keys.ts';
import { initialState, type Key, onKey, type TopState } from './top-state.ts';
import { type Frame, renderTop } from './top-view.ts';

export interface TopOptions {
  /** The gateway; defaults to FLEET_GATEWAY_URL, then the running `npm start`'s. */
  url?: string;
  /** An API key with the `admin` scope; defaults to FLEET_ADMIN_KEY, then `npm start`'s development key. */
  key?: string;
  intervalSeconds: number;
  /** Print one screen and exit (for scripts, or a terminal that is not interactive). */
  once?: boolean;
}

const ALT_SCREEN = '\x1b[?1049h\x1b[?25l';
const MAIN_SCREEN = '\x1b[?25h\x1b[?1049l';

/** Where and as whom `fleet top` reads the fleet: options, then the environment, then `npm start`'s files. */
function target(opts: TopOptions, env: NodeJS.ProcessEnv): { url?: string; key?: string } {
  const fleetDir = env.FLEET_DIR ?? join(REPO_ROOT, '.fleet');
  const url = opts.url ?? env.FLEET_GATEWAY_URL ?? readStackFile(fleetDir)?.gatewayUrl;
  const key = opts.key ?? env.FLEET_ADMIN_KEY ?? readDevCredentials(fleetDir)?.adminKey;
  return { ...(url ? { url: url.replace(/\/+$/, '') } : {}), ...(key ? { key } : {}) };
}

/** One read of `GET /v1/admin/fleet`; throws with what the gateway said. */
async function fetchSnapshot(url: string, key: string): Promise<FleetSnapshot> {
  const res = await fetch(`${url}/v1/admin/fleet`, {
    headers: { authorization: `Bearer ${key}`, accept: 'application/json' },
    signal: AbortSignal.timeout(5000),
  });
  const body: unknown = await res.json().catch(() => null);
  if (!res.ok) {
    const message = (body as { error?: { message?: string } } | null)?.error?.message ?? res.statusText;
    throw Object.assign(new Error(`${res.status}: ${message}`), { status: res.status });
  }
  return fleetSnapshotSchema.parse(body);
}

/**
 * `fleet top`: the fleet live in the terminal, from any gateway with an admin key, refreshed every
 * `intervalSeconds`; keys sort and filter (see `onKey`). Returns the exit code: 0 when quit, 1 when
 * it cannot start or the gateway refuses the key.
 */
export async function topCommand(opts: TopOptions, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { url, key } = target(opts, env);
  const fail = (message: string) => {
    process.stderr.write(`fleet top: ${message}\n`);
    return 1;
  };
  if (!url) return fail('no gateway: pass --url, set FLEET_GATEWAY_URL, or start the fleet with `npm start`');
  if (!key)
    return fail(
      'no admin key: pass --key, set FLEET_ADMIN_KEY, or run it beside `npm start` (its development key)',
    );
  const out = process.stdout;
  const frame = (snapshot: FleetSnapshot | null, error?: string): Frame => ({
    url,
    snapshot,
    ...(error ? { error } : {}),
    intervalSeconds: opts.intervalSeconds,
    columns: out.columns || 120,
    // Printed once to a pipe or a file, every row fits.
    rows: out.rows || (opts.once || !out.isTTY ? 1000 : 50),
  });
  if (opts.once || !out.isTTY || !process.stdin.isTTY) {
    try {
      const text = renderTop(frame(await fetchSnapshot(url, key)), initialState()).join('\n');
      // Bold and inverse only where a terminal shows them; a pipe or a file gets plain text.
      out.write(`${out.isTTY ? text : stripVTControlCharacters(text)}\n`);
      return 0;
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  return live(url, key, opts, frame);
}

/** The interactive screen: the alternate screen, raw keys, a refresh timer; restores the terminal on exit. */
function live(
  url: string,
  key: string,
  opts: TopOptions,
  frame: (s: FleetSnapshot | null, error?: string) => Frame,
): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  let state: TopState = initialState();
  let snapshot: FleetSnapshot | null = null;
  let error: string | undefined;
  const draw = () => {
    const lines = renderTop(frame(snapshot, error), state);
    out.write(`\x1b[H${lines.join('\x1b[K\n')}\x1b[K\x1b[J`);
  };
  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (code: number, message?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stdin.setRawMode(false);
      stdin.pause();
      out.off('resize', draw);
      out.write(MAIN_SCREEN);
      if (message) process.stderr.write(`fleet top: ${message}\n`);
      resolve(code);
    };
    const refresh = async () => {
      if (done) return;
      if (!state.paused) {
        try {
          snapshot = await fetchSnapshot(url, key);
          error = undefined;
        } catch (err) {
          const status = (err as { status?: number }).status;
          if (status === 401 || status === 403) return finish(1, (err as Error).message);
          error = (err as Error).message;
        }
        if (done) return;
        draw();
      }
      timer = setTimeout(() => void refresh(), opts.intervalSeconds * 1000);
    };
    out.write(ALT_SCREEN);
    emitKeypressEvents(stdin);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('keypress', (_text: string | undefined, k: Key | undefined) => {
      const next = onKey(state, k ?? {});
      state = next.state;
      if (next.quit) return finish(0);
      draw();
    });
    out.on('resize', draw);
    draw();
    void refresh();
  });
}
