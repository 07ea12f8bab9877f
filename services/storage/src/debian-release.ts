import { ProblemError } from '@cps/common';

/** What the mirror says its package lists are now: one digest per suite's Packages index. */
export interface SuiteState {
  suite: string;
  /** The SHA256 the suite's (In)Release gives for main/binary-<arch>/Packages.xz (or .gz, or plain). */
  packagesSha256: string;
}

const maxReleaseBytes = 4 * 1024 * 1024;
const suitePattern = /^[a-z0-9][a-z0-9.+-]{0,63}$/;

/**
 * The digest of `main/binary-<arch>/Packages*` in a suite's InRelease text. That digest changes
 * exactly when a package version in the suite's main component changes, so it stands for "the
 * mirror's current versions" without downloading the package lists. The text comes off the
 * network: it is bounded, only lines of the form ` <64 hex> <size> <path>` in the SHA256 section
 * count, and a missing or repeated entry is an error, never a guess.
 */
export function packagesDigest(inRelease: string, arch = 'amd64'): string {
  if (typeof inRelease !== 'string' || inRelease.length > maxReleaseBytes) throw bad(`the Release file is larger than ${maxReleaseBytes} bytes`);
  if (!/^[a-z0-9]{1,16}$/.test(arch)) throw bad('bad architecture');
  const wanted = [`main/binary-${arch}/Packages.xz`, `main/binary-${arch}/Packages.gz`, `main/binary-${arch}/Packages`];
  const found = new Map<string, string>();
  let inSha256 = false;
  for (const raw of inRelease.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (/^[A-Za-z0-9-]+:/.test(line)) {
      inSha256 = line.startsWith('SHA256:');
      continue;
    }
    // A PGP armour line ends the signed text: nothing after it is release data.
    if (line.startsWith('-----')) inSha256 = false;
    if (!inSha256) continue;
    const m = /^ ([0-9a-f]{64}) +([0-9]{1,15}) +(\S{1,200})$/.exec(line);
    if (!m) continue;
    const [, sha, , file] = m;
    if (!wanted.includes(file!)) continue;
    if (found.has(file!)) throw bad(`the Release file lists ${file} twice`);
    found.set(file!, sha!);
  }
  for (const w of wanted) {
    const sha = found.get(w);
    if (sha !== undefined) return sha;
  }
  throw bad(`the Release file has no SHA256 entry for main/binary-${arch}/Packages`);
}

/** The suites a recipe installs from, checked before they become URL parts. */
export function checkSuite(suite: string): string {
  if (!suitePattern.test(suite)) throw bad(`suite ${JSON.stringify(suite.slice(0, 80))} is not a plain suite name`);
  return suite;
}

const bad = (detail: string) => new ProblemError('tool-failed', `Debian mirror: ${detail}`);
