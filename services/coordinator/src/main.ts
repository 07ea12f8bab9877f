import { z } from 'zod';
import { createLogger, loadConfig, onShutdown, portsFrom, portsSchema, serveApp } from '@cps/common';
import { discoveryClient, storageClient } from '@cps/openapi';
import { createApp } from './app.ts';
import { clientsOverHttp, httpBase } from './clients.ts';
import { Placer } from './placement.ts';
import { Tasks } from './tasks/tasks.ts';

const config = loadConfig(
  portsSchema.extend({
    /** How long discovery waits for the first ACK of a task's PUBLISH. */
    CPS_PUBLISH_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5000),
    /** How long a created guest may take to report running (TCG guests are slow). */
    CPS_START_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(120_000),
  }),
);
const ports = portsFrom(config);
const log = createLogger('coordinator');

// This node's own services are always on loopback; only the chosen peers are reached by address.
const tasks = new Tasks();
tasks.subscribe((t) => {
  const last = t.history.at(-1);
  log.info({ taskId: t.id, state: t.state, node: t.node?.nodeId, detail: last?.message }, 'task');
});
const placer = new Placer({
  tasks,
  discovery: discoveryClient({ baseUrl: httpBase('127.0.0.1', ports.discovery) }),
  clientsFor: clientsOverHttp,
  log,
  publishTimeoutMs: config.CPS_PUBLISH_TIMEOUT_MS,
  startTimeoutMs: config.CPS_START_TIMEOUT_MS,
});
const app = createApp({
  log,
  tasks,
  placer,
  localStorage: storageClient({ baseUrl: httpBase('127.0.0.1', ports.storage) }),
  clientsFor: clientsOverHttp,
});

const served = await serveApp(app, { port: ports.coordinator, log });
onShutdown(log, () => served.close());
