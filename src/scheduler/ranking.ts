/** A node the scheduler may place tasks on, with the slots it has left. */
export interface Candidate<N> {
  node: N;
  free: number;
}

/**
 * Picks the node for a task needing `slots`: the node its affinity names when that one has room
 * (`preferred`: Azure's affinityInfo is a locality hint), else spread gives it to the least loaded
 * node, pack to the fullest one that still fits, so whole nodes stay free.
 */
export function pickNode<N>(candidates: Candidate<N>[], slots: number, fill: 'spread' | 'pack', preferred?: (node: N) => boolean): Candidate<N> | undefined {
  let best: Candidate<N> | undefined;
  for (const c of candidates) {
    if (c.free < slots) continue;
    if (preferred?.(c.node)) return c;
    if (!best || (fill === 'spread' ? c.free > best.free : c.free < best.free)) best = c;
  }
  return best;
}
