/** What the user sees while bytes go out: a bar on a terminal, a plain line every 10% otherwise. */
export interface ProgressSink {
  /** Rewrites the terminal's current line; absent without a terminal. */
  live?: (line: string) => void;
  /** Writes one whole line (stderr, so stdout stays the result). */
  line: (text: string) => void;
}

const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;

/** Bytes per second as people read it. */
export function rate(bytes: number, ms: number): string {
  if (ms <= 0) return '-';
  const perSec = (bytes * 1000) / ms;
  return perSec >= MiB ? `${(perSec / MiB).toFixed(1)} MiB/s` : `${(perSec / 1024).toFixed(0)} KiB/s`;
}

/** One progress line: `[#####·····]  50%  60.0/120.0 MiB  5.2 MiB/s`. Pure, for tests. */
export function progressLine(sent: number, total: number, elapsedMs: number, width = 20): string {
  const frac = total > 0 ? Math.min(1, sent / total) : 1;
  const full = Math.round(frac * width);
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  return `[${'#'.repeat(full)}${'·'.repeat(width - full)}] ${pct}  ${mib(sent)}/${mib(total)}  ${rate(sent, elapsedMs)}`;
}

/**
 * Follows an upload of `total` bytes. On a terminal the bar is redrawn at most every 100 ms (and
 * at the end); otherwise a line is written as each tenth is passed, so a log shows ten lines at most.
 */
export function progressReporter(total: number, sink: ProgressSink, now: () => number, what = 'uploaded') {
  const started = now();
  let lastDraw = -Infinity;
  let lastTenth = 0;
  return {
    sent(bytes: number): void {
      const t = now();
      if (sink.live) {
        if (t - lastDraw >= 100 || bytes >= total) {
          lastDraw = t;
          sink.live(progressLine(bytes, total, t - started));
        }
        return;
      }
      const tenth = total > 0 ? Math.floor((Math.min(bytes, total) * 10) / total) : 10;
      if (tenth > lastTenth) {
        lastTenth = tenth;
        sink.line(`${what} ${tenth * 10}% (${mib(bytes)} of ${mib(total)}, ${rate(bytes, t - started)})`);
      }
    },
    /** The terminal's bar gets its line ended, so what follows starts on a fresh one. */
    done(): void {
      if (sink.live) sink.line('');
    },
  };
}
