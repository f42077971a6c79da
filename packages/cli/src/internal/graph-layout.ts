import { graphlib, layout } from "@dagrejs/dagre";

/** A node to lay out: its id and the size its label needs. */
export interface LayoutNode {
  id: string;
  width: number;
  height: number;
}

/** Where dagre put the graph: node centres, edge polylines, and the drawing's size. */
export interface GraphLayout {
  nodes: Map<string, { x: number; y: number; width: number; height: number }>;
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

/**
 * Lay out the packet graph left to right with dagre (layered, dependencies first), at report
 * generation time, so the page carries only the resulting SVG.
 */
export function layoutGraph(nodes: readonly LayoutNode[], edges: readonly [string, string][]): GraphLayout {
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 18, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const [from, to] of edges) g.setEdge(from, to);
  layout(g);
  const placed = new Map<string, { x: number; y: number; width: number; height: number }>();
  for (const n of nodes) {
    const p = g.node(n.id);
    placed.set(n.id, { x: p.x, y: p.y, width: n.width, height: n.height });
  }
  const routed = edges.map(([from, to]) => ({
    from,
    to,
    points: (g.edge(from, to)?.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y })),
  }));
  const graph = g.graph();
  return { nodes: placed, edges: routed, width: graph.width ?? 0, height: graph.height ?? 0 };
}
