import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { createApp } from '../src/app.ts';
import { SessionRegistry } from '../src/sessions.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, memoryLogger, vm, testTicketKey, withTicketDesk } from './fakes.ts';

// A real tiny guest under QEMU (booted here with virsh, so this test needs no provisioner), its
// screen through the gateway into Debian's Chromium: the page must show the guest's text console.
const dataDir = process.env.CPS_DATA_DIR ?? '/var/lib/cps';
const imageDir = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' });
const screenshot = process.env.CPS_CONSOLE_SCREENSHOT ?? '/tmp/cps-vnc-console.png';

const xmlEscape = (s: string) => s.replace(/[&<>'"]/g, (c) => `&#${c.charCodeAt(0)};`);

function domainXml(): string {
  const image = JSON.parse(readFileSync(join(imageDir, 'image.json'), 'utf8')) as { cmdline: string };
  const accel = JSON.parse(readFileSync(join(dataDir, 'accel.json'), 'utf8')) as { accelerator: string };
  return `<domain type='${accel.accelerator === 'kvm' ? 'kvm' : 'qemu'}'>
  <name>${domain}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${xmlEscape(join(imageDir, 'vmlinuz'))}</kernel>
    <initrd>${xmlEscape(join(imageDir, 'initrd.img'))}</initrd>
    <cmdline>${xmlEscape(image.cmdline)}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <serial type='pty'><target port='0'/></serial>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
    <video><model type='vga'/></video>
  </devices>
</domain>`;
}

/** `virsh vncdisplay` prints e.g. `127.0.0.1:3`, display 3 being TCP port 5903. */
function vncPort(): number {
  const m = /^127\.0\.0\.1:(\d+)$/m.exec(virsh('vncdisplay', domain).trim());
  if (!m) throw new Error(`no loopback VNC display for ${domain}`);
  return 5900 + Number(m[1]);
}

let gw: Served;
let browser: Browser;
const sessions = new SessionRegistry();

beforeAll(async () => {
  const file = join('/tmp', `${domain}.xml`);
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: domainXml() });
  virsh('create', file);
  const vms = new Map<string, ProvisionerSchemas['Vm']>([[taskId, vm(taskId, { host: '127.0.0.1', port: vncPort() })]]);
  const { log } = memoryLogger();
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log, sessions });
  gw = await serveApp(withTicketDesk(app), { port: 0, hostname: '127.0.0.1', log }, (server, gated) => attachWebSockets(server as Server, gated, { log }));
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await gw?.close();
  try {
    virsh('destroy', domain);
  } catch {
    // already gone
  }
});

describe('the console page in Chromium', () => {
  it("shows the guest's screen and says connected", async () => {
    const page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`http://127.0.0.1:${gw.port}/console/${taskId}`);
    await expect.poll(() => page.locator('#status').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    expect(await page.locator('#status').textContent()).toBe('connected');
    const lit = () =>
      page.evaluate(() => {
        const canvas = document.querySelector('canvas');
        const ctx = canvas?.getContext('2d');
        if (!canvas || !ctx || canvas.width === 0) return 0;
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 150) n++;
        return n;
      });
    await expect.poll(lit, { timeout: 90_000, interval: 1000 }).toBeGreaterThan(200);
    await page.screenshot({ path: screenshot });
    // On loopback the page is a secure context: noVNC's "requires a secure context" error never comes.
    expect(await page.evaluate(() => window.isSecureContext)).toBe(true);
    expect(await page.content()).not.toContain('secure context');
    expect(problems).toEqual([]);

    // The controls: Ctrl-Alt-Del, scaling off and on, full screen.
    await page.click('#ctrl-alt-del');
    await page.uncheck('#scale');
    expect(await page.evaluate(() => (window as unknown as { cpsConsole: { rfb: { scaleViewport: boolean } } }).cpsConsole.rfb.scaleViewport)).toBe(false);
    await page.check('#scale');
    await page.click('#fullscreen');
    await expect.poll(() => page.evaluate(() => document.fullscreenElement !== null), { timeout: 5000 }).toBe(true);
    await page.click('#fullscreen');

    // A connection lost (here: the gateway ends it as at a restart) comes back by itself, with a
    // fresh ticket: the first one was used up.
    const states: string[] = [];
    await page.exposeFunction('cpsState', (s: string) => states.push(s));
    await page.evaluate(() => {
      const el = document.getElementById('status')!;
      new MutationObserver(() => (window as unknown as { cpsState(s: string): void }).cpsState(el.textContent ?? '')).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await sessions.closeAll('the gateway restarts (test)');
    await expect.poll(() => states.some((s) => s.startsWith('reconnecting: ')), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => page.locator('#status').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
    await expect.poll(lit, { timeout: 30_000, interval: 1000 }).toBeGreaterThan(200);

    // The guest going away ends the page's session with a reason (after trying to reconnect).
    virsh('destroy', domain);
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 60_000 }).toMatch(/^(disconnected|reconnecting): ./);
    await page.screenshot({ path: screenshot.replace(/\.png$/, '-closed.png') });

    // A refused upgrade is a bare 1006 to a browser; the page asks the gateway why and shows it.
    await page.reload();
    // (a 502 is retried a few times first: the guest's VNC server may be restarting)
    await expect.poll(() => page.locator('#status').textContent(), { timeout: 60_000 }).toMatch(/^disconnected: .*unreachable/);
  });
});
