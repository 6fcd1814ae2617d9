import { describe, it, expect } from 'vitest';
import { cellText, rowDiffSummary } from '../src/format.js';

describe('rowDiffSummary', () => {
  const d = (over) => ({ added: [], removed: [], added_total: 0, removed_total: 0, changed_rows: 0, ...over });
  it('counts what was added and removed, saying when only the first rows are shown', () => {
    expect(rowDiffSummary(d({ added: [[1], [2]], added_total: 2, removed: [[4]], removed_total: 1 }))).toBe('2 rows added, 1 row removed.');
    expect(rowDiffSummary(d({ added: [[1]], added_total: 1500, removed_total: 0 }))).toBe('1,500 rows added (first 1 shown), 0 rows removed.');
  });
  it('gives the reason there is no preview', () => {
    expect(rowDiffSummary(d({ reason: 'too large to preview: 250,000 rows changed' }))).toBe('No row preview: too large to preview: 250,000 rows changed.');
    expect(rowDiffSummary(d({ reason: 'schema changed' }))).toBe('No row preview: the schema changed.');
  });
  it('says when the rows are the same', () => {
    expect(rowDiffSummary(d({}))).toBe('The same rows in both versions.');
  });
});

describe('cellText', () => {
  it('keeps nulls and renders nested values as JSON', () => {
    expect(cellText(null)).toBeNull();
    expect(cellText(3)).toBe('3');
    expect(cellText({ a: [1, 2] })).toBe('{"a":[1,2]}');
  });
});
