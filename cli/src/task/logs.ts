/**
 * What a new read of the serial log adds to the one before. The coordinator answers the log's
 * last 1 MiB, so once the log is longer the window slides: the earlier read's tail is looked for
 * in the new one and what follows it is new; if it is not found (much was written between two
 * reads) the whole read is new.
 */
export function newSerialText(before: string, now: string): string {
  if (now.startsWith(before)) return now.slice(before.length);
  const tail = before.slice(-256);
  const at = tail ? now.lastIndexOf(tail) : -1;
  return at >= 0 ? now.slice(at + tail.length) : now;
}

/** Splits text into whole lines and the unfinished rest (kept until its end comes). */
export function wholeLines(pending: string): { lines: string[]; rest: string } {
  const end = pending.lastIndexOf('\n');
  if (end < 0) return { lines: [], rest: pending };
  return { lines: pending.slice(0, end).split('\n'), rest: pending.slice(end + 1) };
}
