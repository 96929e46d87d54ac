import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { partitionOf } from '@agent-fleet/core';
import { ApiKeyStore } from '@agent-fleet/state';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from './support/browser.ts';
import { postMessage, waitFor } from './support/fleet.ts';
import { useSimFleet } from './support/sim-fleet.ts';

const SHOTS = join(fileURLToPath(new URL('../', import.meta.url)), '.fleet', 'screenshots');

/**
 * Bull Board as an operator sees it: Debian's Chromium (installed by the bootstrap for `npm test`)
 * signs in with an admin API key, sees every partition queue and the completed turn of a real
 * gateway + worker. Screenshots land in .fleet/screenshots/.
 */
describe.skipIf(!existsSync(CHROMIUM))('Bull Board in a real browser, behind the admin sign-in', () => {
  const { fleet } = useSimFleet({ workers: 1, env: { AUTH_MODE: 'required' } });
  let browser: Browser;
  let adminKey: string;
  let readerKey: string;
  let turnId: string;
  const USER = 'board-ann';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const store = new ApiKeyStore({ pool: fleet.pool });
    adminKey = (await store.create({ name: 'board operator', scopes: ['admin'] })).key;
    readerKey = (await store.create({ name: 'reader', scopes: ['turns:read'], actAsUsers: true })).key;
    await fleet.workersReady();
    const auth = { authorization: `Bearer ${adminKey}` };
    ({ turnId } = await postMessage(fleet.gatewayUrl, USER, 'Show me on the board', auth));
    await waitFor(
      async () => {
        const res = await fetch(`${fleet.gatewayUrl}/v1/turns/${turnId}`, { headers: auth });
        return ((await res.json()) as { status: string }).status === 'completed';
      },
      { timeoutMs: 30_000 },
    );
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('sends a browser without a session to the sign-in form and refuses a key without admin', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${fleet.gatewayUrl}/admin/queues`);
      expect(new URL(page.url()).pathname).toBe('/admin/login');
      await page.screenshot({ path: join(SHOTS, 'admin-login.png') });
      await page.fill('#key', readerKey);
      await page.click('button[type=submit]');
      await page.waitForURL(/\/admin\/login\?error=not_admin/);
      expect(await page.textContent('[role=alert]')).toMatch(/does not have the admin scope/);
      await page.fill('#key', 'fk_made_up');
      await page.click('button[type=submit]');
      await page.waitForURL(/\/admin\/login\?error=invalid/);
      expect(await page.context().cookies()).toEqual([]);
      // The board's API, too, needs the session.
      const api = await page.request.get(`${fleet.gatewayUrl}/admin/queues/api/queues`);
      expect(api.status()).toBe(401);
    } finally {
      await page.close();
    }
  });

  it('renders the API documentation at /docs without signing in', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(err.message));
      await page.goto(`${fleet.gatewayUrl}/docs`);
      await page.getByText('agent-fleet gateway').first().waitFor({ timeout: 15_000 });
      await page.getByText('/v1/chat/completions').first().waitFor();
      await page.screenshot({ path: join(SHOTS, 'api-docs.png') });
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('signs in, shows every partition queue and the completed turn, and signs out', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    try {
      await page.goto(`${fleet.gatewayUrl}/admin/login`);
      await page.fill('#key', adminKey);
      await page.click('button[type=submit]');
      await page.waitForURL(`${fleet.gatewayUrl}/admin/queues`);

      const [cookie] = await context.cookies();
      expect(cookie).toMatchObject({
        name: 'fleet_admin',
        path: '/admin',
        httpOnly: true,
        sameSite: 'Strict',
        secure: false, // plain http here; Secure whenever the gateway is reached over https
      });

      // The overview has loaded once the queues' counts replace its loading placeholder.
      await page.getByText('agent.p7', { exact: true }).first().waitFor();
      await page
        .getByText(/Loading/)
        .first()
        .waitFor({ state: 'detached', timeout: 15_000 });
      const overview = await page.content();
      for (let p = 0; p < 8; p++) expect(overview).toContain(`agent.p${p}`);
      await page.screenshot({ path: join(SHOTS, 'bull-board-queues.png'), fullPage: true });

      const queue = `agent.p${partitionOf(USER, 8)}`;
      await page.goto(`${fleet.gatewayUrl}/admin/queues/queue/${queue}?status=completed`);
      await page.getByText(turnId).first().waitFor({ timeout: 15_000 });
      await page.screenshot({ path: join(SHOTS, 'bull-board-completed.png'), fullPage: true });

      // Signing out ends the session on the server, not only in this browser.
      const sessionId = cookie!.value;
      await page.goto(`${fleet.gatewayUrl}/admin/login`);
      await page.click('form.logout button');
      await page.waitForURL(/\/admin\/login\?signedOut=1/);
      const replay = await fetch(`${fleet.gatewayUrl}/admin/queues/api/queues`, {
        headers: { cookie: `fleet_admin=${sessionId}` },
      });
      expect(replay.status).toBe(401);
    } finally {
      await context.close();
    }
  });
});
