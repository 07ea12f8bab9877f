// The simulator's runner lives in src/sim (type-checked with the package); this is its short path.
import '../src/sim/run.ts';
