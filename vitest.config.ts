import { defineConfig } from 'vitest/config';

// One project per workspace (as honojs/middleware does), plus the slow end-to-end suites that
// need real libvirt, a browser or docker. `npm test` runs them all; `npm run test:fast` only units.
const unit = ['packages/common', 'packages/trust', 'services/discovery', 'services/provisioner', 'services/storage', 'services/vnc-gateway', 'services/coordinator', 'cli'];

export default defineConfig({
  test: {
    projects: [
      ...unit.map((dir) => ({
        test: {
          name: dir.split('/').pop()!,
          root: dir,
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.slow.test.ts'],
          testTimeout: 20_000,
        },
      })),
      {
        test: {
          name: 'slow',
          include: ['services/*/test/**/*.slow.test.ts', 'cli/test/**/*.slow.test.ts', 'tests/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
