import { FleetError } from '@agent-fleet/core';
import { describe, expect, it } from 'vitest';
import { parseChecklist } from './checklist.ts';

const issuesOf = (input: unknown) => {
  try {
    parseChecklist(input, 'body.checklist');
  } catch (err) {
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).code).toBe('invalid_request');
    return (err as FleetError).details?.issues as { field: string; message: string }[];
  }
  throw new Error('expected the checklist to be refused');
};

describe('checklists', () => {
  it('reads YAML and JSON text and values alike', () => {
    const yaml = `
name: KYC
items:
  - id: retention
    requirement: Records are kept five years.
    policyRef: record-retention
  - id: gifts
    requirement: "Gifts over 50 EUR need approval."
`;
    const fromYaml = parseChecklist(yaml);
    expect(fromYaml).toEqual({
      name: 'KYC',
      items: [
        { id: 'retention', requirement: 'Records are kept five years.', policyRef: 'record-retention' },
        { id: 'gifts', requirement: 'Gifts over 50 EUR need approval.' },
      ],
    });
    expect(parseChecklist(JSON.stringify(fromYaml))).toEqual(fromYaml);
    expect(parseChecklist(fromYaml)).toEqual(fromYaml);
  });

  it('names every bad field, by its path', () => {
    expect(
      issuesOf({
        items: [
          { id: 'ok', requirement: 'fine' },
          { id: 'bad id!', requirement: '' },
          { id: 'ok', requirement: 'again', extra: 1 },
        ],
      }).map((i) => i.field),
    ).toEqual([
      'body.checklist.items.1.id',
      'body.checklist.items.1.requirement',
      'body.checklist.items.2',
      'body.checklist.items.2.id',
    ]);
    expect(issuesOf({ items: [] })).toEqual([
      { field: 'body.checklist.items', message: 'a checklist needs at least one item' },
    ]);
    expect(issuesOf({}).map((i) => i.field)).toEqual(['body.checklist.items']);
  });

  it('reports a YAML syntax error with where it is', () => {
    const [issue] = issuesOf('items:\n  - id: a\n   requirement: [unclosed');
    expect(issue!.field).toBe('body.checklist');
    expect(issue!.message).toMatch(/not valid YAML or JSON: .*line \d+/);
  });

  it('refuses NUL characters, which Postgres cannot store', () => {
    expect(issuesOf({ items: [{ id: 'a', requirement: 'x\u0000y' }] })[0]!.field).toBe(
      'body.checklist.items.0.requirement',
    );
  });
});
