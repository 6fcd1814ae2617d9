import { describe, it, expect } from 'vitest';
import { dagLayout, NODE_W } from '../src/dag.js';

describe('dagLayout', () => {
  it('places what a step reads to its left, with an edge each', () => {
    const g = dagLayout([
      { name: 'raw', kind: 'python' },
      { name: 'clean', kind: 'python', deps: ['raw'] },
      { name: 'stats', kind: 'sql', deps: ['clean', 'raw'] },
      { name: 'check', kind: 'expectation', deps: ['stats', 'elsewhere'] },
    ]);
    const x = Object.fromEntries(g.nodes.map((n) => [n.name, n.x]));
    expect(x.raw).toBeLessThan(x.clean);
    expect(x.clean).toBeLessThan(x.stats);
    expect(x.stats).toBeLessThan(x.check);
    expect(g.lines.map((l) => l.from + '>' + l.to).sort()).toEqual(['clean>stats', 'raw>clean', 'raw>stats', 'stats>check']);
    expect(g.width).toBeGreaterThanOrEqual(4 * NODE_W);
  });
});
