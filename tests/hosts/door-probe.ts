// Runs inside a test host (an outsider's machine on the LAN): calls each given route of a node
// with each given client identity (none, another cluster's, a removed node's) and prints what
// came back, one JSON line. No trust in the server: the point is what the server lets through.
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';

interface Probe {
  routes: { service: string; method: string; path: string; port: number }[];
  host: string;
  clients: Record<string, { cert: string; key: string } | null>;
}

const probe = JSON.parse(process.env.CPS_DOOR_PROBE ?? '{}') as Probe;

function call(r: Probe['routes'][number], client: { cert: string; key: string } | null, plain: boolean): Promise<{ status: number; type?: string }> {
  return new Promise((resolve) => {
    const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : '{}';
    const opts = {
      host: probe.host,
      port: r.port,
      path: r.path,
      method: r.method,
      headers: { 'content-type': 'application/json', ...(body ? { 'content-length': String(body.length) } : {}) },
      timeout: 5000,
    };
    const onRes = (res: import('node:http').IncomingMessage) => {
      let t = '';
      res.on('data', (d) => (t += d));
      res.on('end', () => {
        let type: string | undefined;
        try {
          type = JSON.parse(t).type;
        } catch {}
        resolve({ status: res.statusCode ?? 0, type });
      });
    };
    const req = plain ? plainRequest(opts, onRes) : request({ ...opts, rejectUnauthorized: false, ...(client ?? {}) }, onRes);
    req.on('error', (err) => resolve({ status: -1, type: err.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const out: { service: string; method: string; path: string; client: string; status: number; type?: string }[] = [];
for (const r of probe.routes) {
  out.push({ ...r, client: 'plain-http', ...(await call(r, null, true)) });
  for (const [name, client] of Object.entries(probe.clients)) out.push({ ...r, client: name, ...(await call(r, client, false)) });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
