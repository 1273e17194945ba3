/** A node the scheduler may place tasks on, with the slots it has left. */
export interface Candidate<N> {
  node: N;
  free: number;
}

/**
 * Picks the node for a task needing `slots`: spread gives it to the least loaded node, pack to the
 * fullest one that still fits, so whole nodes stay free.
 */
export function pickNode<N>(candidates: Candidate<N>[], slots: number, fill: 'spread' | 'pack'): Candidate<N> | undefined {
  let best: Candidate<N> | undefined;
  for (const c of candidates) {
    if (c.free < slots) continue;
    if (!best || (fill === 'spread' ? c.free > best.free : c.free < best.free)) best = c;
  }
  return best;
}
