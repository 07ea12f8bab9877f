import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('openapi/gen', () => {
  it('is up to date with openapi/*.yaml (run `npm run gen` when this fails)', () => {
    let out = '';
    let code = 0;
    try {
      execFileSync(process.execPath, ['scripts/gen-openapi.mjs', '--check'], { cwd: root, stdio: 'pipe' });
    } catch (err) {
      code = (err as { status: number }).status;
      out = String((err as { stderr: Buffer }).stderr);
    }
    expect(out).toBe('');
    expect(code).toBe(0);
  }, 60_000);
});
