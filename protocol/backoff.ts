// Capped exponential backoff with jitter: the one copy for every retry loop (a reflector's hellos to
// peers it lost, the operator's informers). "Equal jitter": half of the delay fixed, half random, so
// reflectors that lost each other at the same moment (a partition, a stall) do not retry in lockstep.

export interface BackoffPolicy {
  /** Delay after the first failure. */
  initialMs: number;
  /** The cap: no delay is longer. */
  maxMs: number;
}

/** The delay before the next attempt after `failures` consecutive failures (0 = the initial delay). */
export function backoffDelayMs(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const ms = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, failures), 30));
  return ms / 2 + random() * (ms / 2);
}
