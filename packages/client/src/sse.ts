/** One Server-Sent Event as sent: its `id` (if any), its `event` name (`message` by default) and data. */
export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * The events of an SSE response body, in order, as the WHATWG event-stream format defines them:
 * lines `field: value`, events ended by a blank line, `data` lines joined with `\n`, comments (lines
 * starting with `:`, e.g. keep-alives) skipped. Ends when the body ends.
 */
export async function* readSse(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseMessage, void, undefined> {
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.search(/\r\n|\r|\n/);
    // A CR last in the buffer may be the first half of a CRLF: wait for what follows.
    while (end >= 0 && !(buffer[end] === '\r' && end === buffer.length - 1)) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(buffer.startsWith('\r\n', end) ? end + 2 : end + 1);
      if (line === '') {
        if (current.data.length > 0)
          yield {
            ...(current.id !== undefined ? { id: current.id } : {}),
            event: current.event ?? 'message',
            data: current.data.join('\n'),
          };
        current = { data: [] };
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') current.data.push(value);
        else if (field === 'event') current.event = value;
        else if (field === 'id') current.id = value;
      }
      end = buffer.search(/\r\n|\r|\n/);
    }
  }
}
