// `scripts/build-image.sh NAME`: the same build the API runs (image-build.ts), for set-up and tests.
// Run as root (mmdebstrap --mode=root, mkfs.ext4 -d with root-owned files). Prints one line a step.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { buildImage, imageRecipes, removeWork } from './image-build.ts';
import { StorageLayout } from './paths.ts';
import { runTool } from './tool.ts';

const name = process.argv[2] ?? '';
const recipe = imageRecipes.get(name);
if (!recipe) {
  console.error(`build-image: unknown image ${JSON.stringify(name)} (known: ${[...imageRecipes.keys()].join(', ')})`);
  process.exit(2);
}
const layout = new StorageLayout(path.resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps'));
const started = process.hrtime.bigint();
// Killed or interrupted, the build's `finally` never runs: remove the work folder it made in
// tmp/storage/ here (storage also empties tmp/storage/ when it starts), so nothing half-made stays.
const before = new Set(await readdir(layout.tmpDir).catch(() => [] as string[]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    void (async () => {
      // mmdebstrap undoes its own mounts on SIGTERM; wait (up to 20 s) for it to end, then the folder can go.
      const me = String(process.pid);
      await runTool('pkill', ['-TERM', '-P', me]).catch(() => undefined);
      for (let i = 0; i < 200 && (await runTool('pgrep', ['-P', me]).then(() => true, () => false)); i++) await sleep(100);
      const left = (await readdir(layout.tmpDir).catch(() => [] as string[])).filter((n) => n.startsWith('image-build-') && !before.has(n));
      for (const n of left) await removeWork(path.join(layout.tmpDir, n), runTool).catch((err: Error) => console.error(`build-image: ${err.message}`));
      console.error(`build-image: ${sig}: stopped; the unfinished build is removed`);
      process.exit(130);
    })();
  });
}
try {
  const r = await buildImage(recipe, { run: runTool, layout, now: () => new Date(), progress: (line) => console.log(`build-image: ${line}`) });
  const s = Number((process.hrtime.bigint() - started) / 1_000_000n) / 1000;
  console.log(`build-image: ${r.id} ${r.cached ? 'was up to date' : 'built'} in ${s.toFixed(1)} s (input ${r.inputHash})`);
} catch (err) {
  console.error(`build-image: error: ${(err as Error).message}`);
  process.exit(1);
}
