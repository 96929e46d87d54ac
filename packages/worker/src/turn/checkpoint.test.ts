import type { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import type { AgentStep } from '../agent/steps.ts';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  CheckpointWriter,
  decodeCheckpoint,
  EMPTY_CHECKPOINT,
  encodeCheckpoint,
  type Grounding,
  type TurnCheckpoint,
} from './checkpoint.ts';

const grounding: Grounding = {
  context: '[1] (Retention) Keep records for five years.',
  citations: [
    {
      marker: 1,
      docId: 'retention',
      title: 'Retention',
      section: 'Records',
      sectionPath: ['Records'],
      source: 'api',
      chunkIndex: 0,
    },
  ],
};
const coalesced = [{ seq: 4, turnId: `t_${'4'.repeat(32)}`, text: 'and for KYC?', enqueuedAt: 1700 }];
const model: AgentStep = {
  kind: 'model',
  content: '',
  toolCalls: [{ id: 'call_1', name: 'recall_notes', arguments: '{}' }],
  promptTokens: 120,
  completionTokens: 8,
};
const tool: AgentStep = { kind: 'tool', callId: 'call_1', name: 'recall_notes', ok: true, content: '[]' };
const answer: AgentStep = { ...model, content: 'Five years [1].', toolCalls: [] };
const full: TurnCheckpoint = { v: CHECKPOINT_VERSION, grounding, coalesced, steps: [model, tool, answer] };

/** Expects `fields` to be refused with a CheckpointError whose message matches `why`. */
function expectRefused(fields: Record<string, string>, why: RegExp): void {
  let caught: unknown;
  try {
    decodeCheckpoint(fields);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  expect((caught as FleetError).isRetryable).toBe(false);
  expect((caught as Error).message).toMatch(/^cannot resume from this turn's checkpoint: /);
  expect((caught as Error).message).toMatch(why);
}

describe('checkpoint codec', () => {
  it('reads back what it wrote, stamped with the current version', () => {
    const fields = encodeCheckpoint(full);
    expect(Object.keys(fields).sort()).toEqual(['coalesced', 'grounding', 'step:1', 'step:2', 'step:3', 'v']);
    expect(fields.v).toBe(String(CHECKPOINT_VERSION));
    expect(decodeCheckpoint(fields)).toEqual(full);
  });

  it('reads a turn nothing was saved for as the empty checkpoint', () => {
    expect(decodeCheckpoint({})).toEqual(EMPTY_CHECKPOINT);
  });

  it('reads version 1, the string-key layout from before versions (no `v` field), as is', () => {
    // As the worker before versioned checkpoints wrote it, mid-turn during a deploy.
    const v1 = {
      grounding: JSON.stringify(grounding),
      coalesced: JSON.stringify(coalesced),
      'step:1': JSON.stringify(model),
      'step:2': JSON.stringify(tool),
    };
    expect(decodeCheckpoint(v1)).toEqual({
      v: CHECKPOINT_VERSION,
      grounding,
      coalesced,
      steps: [model, tool],
    });
    expect(decodeCheckpoint({ 'step:1': JSON.stringify(answer) })).toEqual({ v: 2, steps: [answer] });
  });

  it('orders steps by number, not by the order Redis lists the fields in', () => {
    const fields = encodeCheckpoint(full);
    const shuffled = Object.fromEntries(Object.entries(fields).reverse());
    expect(decodeCheckpoint(shuffled).steps).toEqual([model, tool, answer]);
  });

  it('refuses a version it does not know, saying which and why', () => {
    expectRefused(
      { ...encodeCheckpoint(full), v: '3' },
      /version "3" is not one this worker reads \(1 to 2\).*newer deploy/,
    );
    expectRefused({ v: '0' }, /version "0"/);
    expectRefused({ v: 'two' }, /version "two"/);
  });

  it('refuses fields outside the layout, e.g. the pre-agent `reply`', () => {
    expectRefused(
      { grounding: JSON.stringify(grounding), reply: 'Five years.' },
      /field "reply" is not part of version 1/,
    );
    expectRefused({ ...encodeCheckpoint(full), 'step:0': '{}' }, /field "step:0" is not part of version 2/);
  });

  it('refuses steps with a gap, and values that do not parse', () => {
    expectRefused(
      { v: '2', 'step:1': JSON.stringify(model), 'step:3': JSON.stringify(tool) },
      /step 2 is missing before step 3/,
    );
    expectRefused({ v: '2', 'step:1': '{"kind":' }, /field step:1 is not JSON/);
    expectRefused({ v: '2', 'step:1': JSON.stringify({ kind: 'dance' }) }, /invalid content[\s\S]*steps/);
    expectRefused({ v: '2', grounding: JSON.stringify({ context: 1 }) }, /invalid content[\s\S]*grounding/);
  });
});

describe('CheckpointWriter', () => {
  const writer = (resumed: TurnCheckpoint) => {
    const saves: Record<string, string>[] = [];
    const timings: number[] = [];
    const w = new CheckpointWriter({
      store: {
        async save(userId, turnId, fields) {
          expect([userId, turnId]).toEqual(['ada', 't1']);
          saves.push({ ...fields });
        },
      },
      turn: { userId: 'ada', turnId: 't1' },
      resumed,
      decided: { grounding, coalesced },
      onSaved: (index) => timings.push(index),
    });
    return { w, saves, timings };
  };

  it("writes the turn's decisions with its first step, in the same save, then one step per save", async () => {
    const { w, saves, timings } = writer(EMPTY_CHECKPOINT);
    await w.save(1, model);
    await w.save(2, tool);
    expect(saves).toEqual([
      encodeCheckpoint({ grounding, coalesced, steps: [model] }),
      encodeCheckpoint({ steps: [tool] }, 2),
    ]);
    expect(timings).toEqual([1, 2]);
    expect(decodeCheckpoint(Object.assign({}, ...saves))).toEqual({
      v: CHECKPOINT_VERSION,
      grounding,
      coalesced,
      steps: [model, tool],
    });
  });

  it('resuming, writes only what the checkpoint lacks, after its steps', async () => {
    const { w, saves } = writer({ v: CHECKPOINT_VERSION, grounding, steps: [model] });
    await expect(w.save(1, tool)).rejects.toThrow(/step 1 saved after 1/);
    await w.save(2, tool);
    expect(saves).toEqual([encodeCheckpoint({ coalesced, steps: [tool] }, 2)]);
  });

  it('knows what the model last said, resumed steps included', async () => {
    const { w } = writer({ v: CHECKPOINT_VERSION, steps: [answer] });
    expect(w.partial()).toBe('Five years [1].');
    await w.save(2, model);
    expect(w.partial()).toBe('Five years [1].');
    expect(writer(EMPTY_CHECKPOINT).w.partial()).toBe('');
  });
});
