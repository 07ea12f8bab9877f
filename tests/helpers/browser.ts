import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core, with the flags that let it run as root on a
 * machine without a GPU or internet and keep it from calling home (see shared/ENVIRONMENT.md).
 */
export const chromiumPath = process.env.CPS_CHROMIUM ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
] as const;

export function launchChromium(opts: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    ...opts,
    args: [...chromiumArgs, ...(opts.args ?? [])],
  });
}
