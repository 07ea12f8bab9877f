// Deployment parity: every setting the READMEs document reaches every service compose runs. The
// documented names are read from the tables of README.md and services/*/README.md (a backticked
// CPS_* name in a table row; `CPS_SHARE_*`-style families stand for the rows that spell them out).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serviceNames } from '../../cli/src/up/services.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The CPS_* names in a Markdown file's table rows. */
export function documentedSettings(markdown: string): string[] {
  const names = new Set<string>();
  for (const line of markdown.split('\n')) {
    if (!line.trimStart().startsWith('|')) continue;
    for (const m of line.matchAll(/`(CPS_[A-Z0-9_]*[A-Z0-9])`/g)) names.add(m[1]!);
  }
  return [...names].sort();
}

/** Each compose service's environment keys, with YAML merge keys (`<<: *env`) applied. */
export function composeEnvironments(composeYaml: string): Record<string, string[]> {
  const doc = parse(composeYaml, { merge: true }) as { services: Record<string, { environment?: Record<string, unknown> | string[] }> };
  return Object.fromEntries(
    Object.entries(doc.services).map(([name, svc]) => {
      const env = svc.environment ?? {};
      return [name, Array.isArray(env) ? env.map((e) => e.split('=')[0]!) : Object.keys(env)];
    }),
  );
}

const readmes = ['README.md', ...readdirSync(join(root, 'services')).map((s) => join('services', s, 'README.md'))].filter((f) => {
  try {
    readFileSync(join(root, f));
    return true;
  } catch {
    return false;
  }
});

describe('the parsers', () => {
  it('takes the names from table rows only, not families or prose', () => {
    const md = ['`CPS_IN_PROSE` is not a row', '| `CPS_A`, `CPS_B_MIB` | 1 | uses `CPS_C` too |', '| `CPS_SHARE_*` | see below |', '|---|---|'].join('\n');
    expect(documentedSettings(md)).toEqual(['CPS_A', 'CPS_B_MIB', 'CPS_C']);
  });
  it('applies the merge keys of a compose file', () => {
    const y = "x-env: &env\n  CPS_A: 1\n  CPS_B:\nservices:\n  one:\n    environment: { <<: *env, SERVICE: one }\n  two:\n    environment: [CPS_A=2]\n";
    expect(composeEnvironments(y)).toEqual({ one: ['CPS_A', 'CPS_B', 'SERVICE'], two: ['CPS_A'] });
  });
});

describe('compose.yaml', () => {
  const envs = composeEnvironments(readFileSync(join(root, 'compose.yaml'), 'utf8'));

  it('runs the five services', () => {
    expect(Object.keys(envs).sort()).toEqual([...serviceNames].sort());
  });

  it.each(readmes)('passes every setting documented in %s to every service', (file) => {
    const documented = documentedSettings(readFileSync(join(root, file), 'utf8'));
    if (file === 'README.md') expect(documented.length).toBeGreaterThan(10);
    const missing = Object.entries(envs).flatMap(([svc, keys]) => documented.filter((v) => !keys.includes(v)).map((v) => `${svc}: ${v}`));
    expect(missing, `add these to x-env in compose.yaml`).toEqual([]);
  });

  it('passes the port of each service (README names the range by its ends)', () => {
    for (const [svc, keys] of Object.entries(envs)) {
      for (const p of ['COORDINATOR', 'DISCOVERY', 'PROVISIONER', 'STORAGE', 'VNC_GATEWAY']) expect(keys, svc).toContain(`CPS_${p}_PORT`);
    }
  });
});
