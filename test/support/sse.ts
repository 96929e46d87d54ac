export interface Sse {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

/** Read a Server-Sent Events response until the `done` event (or the stream ends). */
export async function readSse(res: Response): Promise<Sse[]> {
  const out: Sse[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((l) => !l.startsWith(':') && l.includes(': '))
          .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)]),
      );
      if (!fields.data) continue;
      out.push({
        ...(fields.id ? { id: fields.id } : {}),
        event: fields.event ?? 'message',
        data: JSON.parse(fields.data),
      });
      if (fields.event === 'done') return out;
    }
  }
  return out;
}
