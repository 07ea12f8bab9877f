import type { VmEvent } from '../src/events.ts';

/** Reads GET /events (SSE) until an event of this task and kind arrives, or throws with what came. */
export async function nextEvent(reader: ReadableStreamDefaultReader<Uint8Array>, taskId: string, kind: string, timeoutMs: number): Promise<VmEvent> {
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(r, deadline - Date.now()))]);
    if (!chunk || chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
    for (const frame of text.split('\n\n')) {
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      const e = data && (JSON.parse(data.slice(6)) as VmEvent);
      if (e && e.taskId === taskId && e.kind === kind) return e;
    }
  }
  throw new Error(`no ${kind} event for ${taskId} within ${timeoutMs} ms; stream so far:\n${text}`);
}
