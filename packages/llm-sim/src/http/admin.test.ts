import { describe, expect, it } from 'vitest';
import type { LoggedRequest } from '../request-log.ts';
import { json, post, root, sim } from './test-support.ts';

const tool = (name: string) => ({ type: 'function', function: { name, parameters: { type: 'object' } } });

describe('GET /sim/requests', () => {
  it('lists what each chat request asked for, by user, until the stats are reset', async () => {
    const s = await sim();
    await post(`${s.url}/chat/completions`, {
      model: 'big-model',
      temperature: 0.25,
      user: 'ada',
      priority: 5,
      tools: [tool('search_documents'), tool('save_note')],
      messages: [{ role: 'user', content: 'hi' }],
    }).then((r) => r.json());
    await post(
      `${s.url}/chat/completions`,
      { messages: [{ role: 'user', content: 'hi' }], stream: true },
      {
        'x-user-id': 'bob',
      },
    ).then((r) => r.text());
    // An invalid body is not a request the server received as such.
    expect((await post(`${s.url}/chat/completions`, { messages: [] })).status).toBe(400);

    const all = await json<{ requests: LoggedRequest[] }>(fetch(`${root(s)}/sim/requests`));
    expect(all.requests).toEqual([
      {
        user: 'ada',
        model: 'big-model',
        temperature: 0.25,
        tools: ['search_documents', 'save_note'],
        stream: false,
        priority: 5,
        responseFormat: null,
      },
      {
        user: 'bob',
        model: null,
        temperature: null,
        tools: [],
        stream: true,
        priority: 0,
        responseFormat: null,
      },
    ]);
    const bob = await json<{ requests: LoggedRequest[] }>(fetch(`${root(s)}/sim/requests?user=bob`));
    expect(bob.requests.map((r) => r.user)).toEqual(['bob']);
    expect((await fetch(`${root(s)}/sim/requests?user=`)).status).toBe(400);
    // Found by the text of their messages, which is never listed.
    expect(
      (await json<{ requests: LoggedRequest[] }>(fetch(`${root(s)}/sim/requests?contains=hi`))).requests,
    ).toHaveLength(2);
    expect(
      (await json<{ requests: LoggedRequest[] }>(fetch(`${root(s)}/sim/requests?contains=bye`))).requests,
    ).toEqual([]);

    await fetch(`${root(s)}/sim/stats/reset`, { method: 'POST' });
    expect(await json(fetch(`${root(s)}/sim/requests`))).toEqual({ requests: [] });
  });
});
