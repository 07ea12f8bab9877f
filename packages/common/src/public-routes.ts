import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** A route strangers may reach, and the contract's reason why. */
export interface PublicRoute {
  method: string;
  template: string;
  reason: string;
}

export interface PublicRoutes {
  /** The public route a request's method and (normalized) path fall under, if any. */
  match(method: string, path: string): PublicRoute | undefined;
  list(): PublicRoute[];
}

type Operation = { 'x-cps-public'?: unknown; 'x-cps-path-rest'?: unknown };
type Spec = { paths?: Record<string, Record<string, Operation>> };
const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/**
 * Every route is for members of the cluster unless its operation in the OpenAPI file says
 * `x-cps-public: <why>`. So the contract is where a door is opened, and a route added later is
 * closed to strangers until someone writes down why it should not be. A `{param}` matches one
 * path segment; with `x-cps-path-rest: true`, a last `{param}` matches the rest of the path.
 */
export function publicRoutesOf(spec: Spec): PublicRoutes {
  const rules: (PublicRoute & { re: RegExp })[] = [];
  for (const [template, ops] of Object.entries(spec.paths ?? {})) {
    for (const [method, op] of Object.entries(ops ?? {})) {
      if (!methods.includes(method) || typeof op?.['x-cps-public'] !== 'string') continue;
      const rest = op['x-cps-path-rest'] === true;
      const parts = template.split('/').map((seg, i, all) => {
        if (!/^\{[A-Za-z0-9_]+\}$/.test(seg)) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        return rest && i === all.length - 1 ? '[^?#]+' : '[^/?#]+';
      });
      rules.push({ method: method.toUpperCase(), template, reason: op['x-cps-public'], re: new RegExp(`^${parts.join('/')}$`) });
    }
  }
  return {
    match(method, path) {
      const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
      const r = rules.find((x) => x.method === m && x.re.test(path));
      return r ? { method: r.method, template: r.template, reason: r.reason } : undefined;
    },
    list: () => rules.map(({ method, template, reason }) => ({ method, template, reason })),
  };
}

export const publicRoutesOfFile = (path: string | URL): PublicRoutes => publicRoutesOf(parseYaml(readFileSync(path, 'utf8')) as Spec);
