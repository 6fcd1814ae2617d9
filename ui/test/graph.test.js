import { describe, it, expect } from 'vitest';
import { layout } from '../src/graph.js';

const c = (hash, ...parents) => ({ hash, parents });

describe('commit graph lanes', () => {
  it('keeps a straight history in one lane', () => {
    const rows = layout([c('c', 'b'), c('b', 'a'), c('a')]);
    expect(rows.map((r) => r.col)).toEqual([0, 0, 0]);
    expect(rows.map((r) => r.incoming)).toEqual([false, true, true]);
    expect(rows.every((r) => r.forks.length === 0 && r.joins.length === 0)).toBe(true);
  });

  it('opens a lane for a merge\'s second parent and joins it at the fork point', () => {
    // m merges b (side) into a (main line); both come from o.
    const rows = layout([c('m', 'a', 'b'), c('a', 'o'), c('b', 'o'), c('o')]);
    const by = Object.fromEntries(rows.map((r) => [r.commit.hash, r]));
    expect(by.m.col).toBe(0);
    expect(by.m.forks).toEqual([1]);
    expect(by.a.col).toBe(0);
    expect(by.a.through).toEqual([1]);
    expect(by.b.col).toBe(1);
    expect(by.o.col).toBe(0);
    expect(by.o.joins).toEqual([1]);
  });

  it('continues across pages through the lanes it is given', () => {
    const lanes = [];
    const first = layout([c('m', 'a', 'b')], lanes);
    expect(lanes).toEqual(['a', 'b']);
    const second = layout([c('a', 'o'), c('b', 'o'), c('o')], lanes);
    expect(first[0].forks).toEqual([1]);
    expect(second.map((r) => r.col)).toEqual([0, 1, 0]);
    expect(lanes).toEqual([]);
  });
});
