/**
 * How the server and its node agents notice each other's silence (docs/security.md, "No task runs
 * twice at once"). The order matters: an agent cut off from its server stops its runs
 * (`agentCutOffMs` after its last answered call) before the server counts the node lost and
 * requeues them (`lostAfterMs` after it last heard from the node); heartbeats come often enough
 * that a single late one is never either.
 */
export interface NodeTimings {
  /** Agents post a heartbeat, and the server writes a keep-alive line on command streams, this often. */
  heartbeatMs: number;
  /** A node not heard from for this long is lost: its tasks go back to the queue. */
  lostAfterMs: number;
  /** An agent whose calls have all failed for this long kills its runs. Below lostAfterMs. */
  agentCutOffMs: number;
  /** A run missing from a node's heartbeats is taken for lost only once sent this long ago… */
  lostRunGraceMs: number;
  /** …and missing from heartbeats for this long. */
  lostRunConfirmMs: number;
}

export const DEFAULT_NODE_LOST_AFTER_MS = 10_000;

/** Every timing follows from how long a silent node is given: tests shorten that one number. */
export function nodeTimings(lostAfterMs = DEFAULT_NODE_LOST_AFTER_MS, overrides: Partial<NodeTimings> = {}): NodeTimings {
  if (!Number.isFinite(lostAfterMs) || lostAfterMs < 500) throw new Error(`the node-loss timeout must be at least 500 ms, not ${lostAfterMs}`);
  const timings: NodeTimings = {
    heartbeatMs: Math.round(lostAfterMs / 5),
    lostAfterMs,
    agentCutOffMs: Math.round(lostAfterMs * 0.6),
    lostRunGraceMs: lostAfterMs,
    lostRunConfirmMs: Math.round(lostAfterMs * 0.4),
    ...overrides,
  };
  if (timings.agentCutOffMs >= timings.lostAfterMs) throw new Error('an agent must stop its runs before the server counts its node lost (agentCutOffMs < lostAfterMs)');
  if (timings.heartbeatMs * 2 > timings.agentCutOffMs) throw new Error('heartbeats must come at least twice within agentCutOffMs');
  return timings;
}
