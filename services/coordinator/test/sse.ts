/** A minimal server-sent-events reader for tests: yields each event's name, data, or comment. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event?: string; data?: string; comment?: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const msg: { event?: string; data?: string; comment?: string } = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) msg.comment = line.slice(1).trim();
        else if (line.startsWith('event: ')) msg.event = line.slice(7);
        else if (line.startsWith('data: ')) msg.data = (msg.data === undefined ? '' : `${msg.data}\n`) + line.slice(6);
      }
      yield msg;
    }
  }
}
