import type { CoordinatorSchemas } from '@cps/openapi';
import { sanitize } from '../logline.ts';

type Task = CoordinatorSchemas['Task'];
type Problem = CoordinatorSchemas['Problem'];

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows].map((r) => r.map((c) => sanitize(c)));
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

export function taskTable(tasks: Task[]): string {
  if (!tasks.length) return 'no tasks';
  return table(
    ['ID', 'NAME', 'STATE', 'VCPUS', 'MEMORY', 'IMAGE', 'NODE', 'CREATED'],
    tasks.map((t) => [t.id, t.name, t.state, String(t.request.vcpus), `${t.request.memoryMiB} MiB`, t.request.image, t.node?.nodeId ?? '-', t.createdAt]),
  );
}

/**
 * The task's desktop (noVNC) and serial terminal pages as absolute URLs on the coordinator the CLI
 * talks to: the contract gives the desktop as a path on the portal's origin, which a terminal
 * cannot open by itself.
 */
export function consoleUrls(t: Task, baseUrl: string): { desktop: string; serial: string } | undefined {
  if (!t.console) return undefined;
  const base = `${baseUrl.replace(/\/+$/, '')}/`;
  return { desktop: new URL(t.console.vncUrl, base).href, serial: new URL(`/serial/${encodeURIComponent(t.id)}`, base).href };
}

export function taskDetail(t: Task, baseUrl: string): string {
  const lines = [
    `id:       ${t.id}`,
    `name:     ${t.name}`,
    `state:    ${t.state}`,
    `request:  ${t.request.vcpus} vcpu, ${t.request.memoryMiB} MiB memory, ${t.request.diskMiB} MiB disk, image ${t.request.image}`,
    `node:     ${t.node ? `${t.node.nodeId} (${t.node.address})` : '-'}`,
  ];
  if (t.backups?.length) lines.push(`backups:  ${t.backups.map((b) => b.nodeId).join(', ')}`);
  const consoles = consoleUrls(t, baseUrl);
  if (consoles) lines.push(`desktop:  ${consoles.desktop}`, `serial:   ${consoles.serial}`);
  // The guest's own word (its qemu-guest-agent), as sanitized as the rest.
  if (t.addresses?.length) lines.push(`address:  ${t.addresses.map((a) => `${a.address}/${a.prefix} (${a.interface})`).join(', ')}`);
  if (t.error) lines.push(`error:    ${problemLine(t.error)}`);
  lines.push(`created:  ${t.createdAt}`, `updated:  ${t.updatedAt}`, 'history:');
  for (const h of t.history) lines.push(`  ${historyLine(h)}`);
  return lines.map(sanitize).join('\n');
}

export const historyLine = (h: Task['history'][number]): string => sanitize(`${h.at}  ${h.state}${h.message ? `  ${h.message}` : ''}`);

export const problemLine = (p: Partial<Problem>): string =>
  sanitize(`${p.title ?? 'error'}${p.detail ? `: ${p.detail}` : ''}`);
