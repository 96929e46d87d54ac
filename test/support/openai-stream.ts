import type OpenAI from 'openai';

/** A chat completion of the fleet's agent for `user`, streamed, with the usage in its last chunk. */
export function streamAgentChat(client: OpenAI, user: string, content: string) {
  return client.chat.completions.create({
    model: 'fleet-agent',
    user,
    messages: [{ role: 'user', content }],
    stream: true,
    stream_options: { include_usage: true },
  });
}
