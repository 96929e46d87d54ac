import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium, installed by the bootstrap for `npm test`. */
export const CHROMIUM = '/usr/bin/chromium';

/** Chromium headless, without a sandbox (tests run as root) and without its own background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
