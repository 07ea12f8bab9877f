// A second process on one fence folder, for fence-guard.test.ts: admits every epoch from `first`
// to `last` in steps of `step`, printing each one let through and each one refused.
import { FenceGuard } from '../src/election/fence-guard.ts';

const [dir, first, last, step] = process.argv.slice(2);
const guard = await FenceGuard.open(dir!);
for (let e = Number(first); e <= Number(last); e += Number(step)) {
  const ok = await guard.admit(e, `p${process.pid}`).then(() => true, () => false);
  process.stdout.write(`${ok ? 'admitted' : 'refused'} ${e}\n`);
}
