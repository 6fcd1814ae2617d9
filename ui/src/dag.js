// Layout of a run's DAG (its plan event) with dagre: boxes left to right,
// edges from what a step reads to the step.
import dagre from '@dagrejs/dagre';

export const NODE_W = 168, NODE_H = 52;

export function dagLayout(plan) {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 48, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const names = new Set(plan.map((s) => s.name));
  for (const s of plan) g.setNode(s.name, { width: NODE_W, height: NODE_H });
  const edges = [];
  for (const s of plan) {
    for (const d of s.deps || []) if (names.has(d)) { g.setEdge(d, s.name); edges.push([d, s.name]); }
  }
  dagre.layout(g);
  const nodes = plan.map((s) => { const n = g.node(s.name); return { ...s, x: n.x - NODE_W / 2, y: n.y - NODE_H / 2 }; });
  const lines = edges.map(([a, b]) => ({ from: a, to: b, points: g.edge(a, b).points }));
  const { width, height } = g.graph();
  return { nodes, lines, width, height };
}
