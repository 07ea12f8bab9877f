import { coordinatorClient, discoveryClient, provisionerClient, storageClient, vncGatewayClient } from '@cps/openapi';
import type { ServiceName } from './services.ts';

export type HealthResult = { ok: true } | { ok: false; detail: string };

type HealthAnswer = { data?: { status: string; detail?: string }; error?: unknown; response: Response };

const perRequestMs = 2_000;

function judge(a: HealthAnswer): HealthResult {
  if (a.data?.status === 'ok') return { ok: true };
  const body = (a.data ?? a.error) as { detail?: string } | undefined;
  return { ok: false, detail: `HTTP ${a.response.status}${body?.detail ? `: ${body.detail}` : ''}` };
}

// One typed call per service: each contract declares its own /healthz.
const probes: Record<ServiceName, (baseUrl: string, signal: AbortSignal) => Promise<HealthAnswer>> = {
  coordinator: (baseUrl, signal) => coordinatorClient({ baseUrl }).GET('/healthz', { signal }),
  discovery: (baseUrl, signal) => discoveryClient({ baseUrl }).GET('/healthz', { signal }),
  provisioner: (baseUrl, signal) => provisionerClient({ baseUrl }).GET('/healthz', { signal }),
  storage: (baseUrl, signal) => storageClient({ baseUrl }).GET('/healthz', { signal }),
  'vnc-gateway': (baseUrl, signal) => vncGatewayClient({ baseUrl }).GET('/healthz', { signal }),
};

/** One GET /healthz; never throws, never waits longer than a couple of seconds. */
export async function checkHealth(svc: ServiceName, port: number): Promise<HealthResult> {
  try {
    return judge(await probes[svc](`http://127.0.0.1:${port}`, AbortSignal.timeout(perRequestMs)));
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    return { ok: false, detail: e.cause?.code ?? e.cause?.message ?? e.message };
  }
}

/**
 * Polls until healthy, `gaveUp()` says stop (the child died), or the deadline passes; returns the
 * last failure so the message can say why.
 */
export async function waitHealthy(
  svc: ServiceName,
  port: number,
  opts: { timeoutMs: number; intervalMs?: number; gaveUp?: () => boolean },
): Promise<HealthResult> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: HealthResult = { ok: false, detail: 'not checked yet' };
  while (Date.now() < deadline && !opts.gaveUp?.()) {
    last = await checkHealth(svc, port);
    if (last.ok) return last;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 300));
  }
  return last;
}
