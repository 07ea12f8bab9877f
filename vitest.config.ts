import { defineConfig } from 'vitest/config';

// One project per workspace (as honojs/middleware does), plus the slow end-to-end suites that
// need real libvirt, a browser or docker. `npm test` runs them all; `npm run test:fast` only units.
const unit = ['packages/common', 'packages/trust', 'packages/head', 'services/discovery', 'services/provisioner', 'services/storage', 'services/vnc-gateway', 'services/coordinator', 'cli'];

// `cps up` advertises and multicasts on the interface of the default route unless told otherwise.
// Tests stay on loopback (or on namespace hosts they make, which set their own addresses): no test
// may send a packet to the machine's real LAN.
const env = { CPS_ADVERTISE_ADDRESS: '127.0.0.1', CPS_PEP_INTERFACE: '127.0.0.1' };

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
          env,
        },
      })),
      {
        test: {
          name: 'slow',
          include: ['services/*/test/**/*.slow.test.ts', 'cli/test/**/*.slow.test.ts', 'tests/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          env,
        },
      },
    ],
  },
});
