import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { serveApp, type Served } from '@cps/common';
import { provisionerClient, viaApp, type ProvisionerSchemas } from '@cps/openapi';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { createApp } from '../src/app.ts';
import { attachWebSockets } from '../src/upgrade.ts';
import { fakeProvisioner, memoryLogger, vm, testTicketKey, withTicketDesk } from './fakes.ts';

// A real tiny guest under QEMU with its serial port on a unix socket and a log, as the
// provisioner's domainXml.ts writes it (booted here with virsh); its shell on ttyS0 in two
// Chromium pages through the gateway: what one types, both read, and the log still gets it all.
const dataDir = process.env.CPS_DATA_DIR ?? '/var/lib/cps';
const imageDir = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const work = mkdtempSync('/tmp/cps-serial-');
const socketDir = join(work, 'serial');
const socket = join(socketDir, `${taskId}.sock`);
const log = join(work, `${taskId}.serial`);
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' });
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
    <serial type='unix'><source mode='bind' path='${xmlEscape(socket)}'/><log file='${xmlEscape(log)}' append='on'/><target port='0'/></serial>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/></graphics>
    <video><model type='vga'/></video>
  </devices>
</domain>`;
}

let gw: Served;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(socketDir, { recursive: true });
  const file = join(work, `${domain}.xml`);
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: domainXml() });
  virsh('create', file);
  const vms = new Map<string, ProvisionerSchemas['Vm']>([[taskId, vm(taskId, { host: '127.0.0.1', port: 5900 }, 'running', socket)]]);
  const { log: logger } = memoryLogger();
  const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log: logger, serialSocketDir: socketDir });
  gw = await serveApp(withTicketDesk(app), { port: 0, hostname: '127.0.0.1', log: logger }, (server, gated) => attachWebSockets(server as Server, gated, { log: logger }));
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
  rmSync(work, { recursive: true, force: true });
});

const terminalText = (page: Page) => page.evaluate(() => (window as unknown as { cpsSerial: { text(): string } }).cpsSerial.text());

describe('the serial console page in Chromium', () => {
  it('types into the guest shell on ttyS0 and reads the answer, in two viewers at once', async () => {
    const problems: string[] = [];
    const open = async () => {
      const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(`http://127.0.0.1:${gw.port}/serial/${taskId}`);
      await expect.poll(() => page.locator('#status').getAttribute('data-state'), { timeout: 30_000 }).toBe('connected');
      return page;
    };
    const one = await open();
    const two = await open();
    // The guest is up once its tick shows on the serial port.
    await expect.poll(() => terminalText(one), { timeout: 90_000, interval: 1000 }).toMatch(/cps-guest: tick \d+/);
    await one.locator('#terminal').click();
    await one.keyboard.press('Enter');
    await one.keyboard.type('echo hello-cps');
    await one.keyboard.press('Enter');
    const answered = (t: string) => t.split('\n').some((l) => l.trim() === 'hello-cps');
    await expect.poll(async () => answered(await terminalText(one)), { timeout: 30_000 }).toBe(true);
    await expect.poll(async () => answered(await terminalText(two)), { timeout: 30_000 }).toBe(true);
    await one.screenshot({ path: '/tmp/cps-serial-console.png' });
    // The log is still written by virtlogd.
    await expect.poll(() => readFileSync(log, 'utf8'), { timeout: 10_000 }).toContain('hello-cps');
    expect(problems).toEqual([]);

    // The guest going away ends both pages' sessions with a reason.
    virsh('destroy', domain);
    for (const page of [one, two]) await expect.poll(() => page.locator('#status').textContent(), { timeout: 30_000 }).toMatch(/^disconnected: ./);
  });
});
