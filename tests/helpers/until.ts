/**
 * Polls `read` until `ok` holds and returns what it read; the timeout is generous, the wait ends as
 * soon as it holds. A read that throws counts as "not yet" (a service restarting). On timeout the
 * error says what was awaited, the last value seen and, if given, `logs()` (a node's output).
 */
export async function until<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, logs?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let failure: unknown;
  for (;;) {
    try {
      last = await read();
      failure = undefined;
      if (ok(last)) return last;
    } catch (err) {
      failure = err;
    }
    if (Date.now() > deadline) {
      const seen = failure ? `the last read failed: ${(failure as Error).message}` : `last seen: ${JSON.stringify(last)?.slice(0, 1000)}`;
      throw new Error(`${what}: not within ${timeoutMs} ms; ${seen}${logs ? `\n${logs().slice(-4000)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
