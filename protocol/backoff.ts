// Capped exponential backoff with jitter: the one copy for every retry loop (a reflector's hellos to
// peers it lost, the operator's informers and work queue, the client SDK's failover). "Equal jitter":
// half of the delay fixed, half random, so reflectors that lost each other at the same moment (a
// partition, a stall) do not retry in lockstep. A loop that is alone in retrying its key (the
// operator's work queue: one worker per key) may ask for no jitter and get the plain doubling.

export interface BackoffPolicy {
  /** Delay after the first failure. */
  initialMs: number;
  /** The cap: no delay is longer. */
  maxMs: number;
  /** 'equal' (the default): half fixed, half random; 'none': the capped doubling itself. */
  jitter?: 'equal' | 'none';
}

/** The delay before the next attempt after `failures` consecutive failures (0 = the initial delay). */
export function backoffDelayMs(policy: BackoffPolicy, failures: number, random: () => number = Math.random): number {
  const ms = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, failures), 30));
  if (policy.jitter === 'none') return ms;
  return ms / 2 + random() * (ms / 2);
}
