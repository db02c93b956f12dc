// The saturation search of the data-plane benchmark, apart from any I/O: raise the offered rate by a
// factor until a trial loses 0.1% or more, then halve the gap between the last clean and the first
// lossy rate a few times. A lossy trial is repeated once before it counts, because the machine is
// shared and a neighbour's burst is not the forwarder's limit.

export const LOSS_LIMIT = 0.001;

export interface SearchPlan {
  /** First offered rate, output datagrams per second. */
  start: number;
  factor: number;
  max: number;
  refinements: number;
  /** Repeat a lossy trial once before it counts (default true; --quick does not, for time). */
  retryLossy?: boolean;
}

export interface Probe {
  (outRate: number): Promise<number>; // resolves to the loss fraction at that rate
}

/** The largest output rate that lost less than LOSS_LIMIT (0 when even the first one did). */
export async function saturation(plan: SearchPlan, probe: Probe): Promise<number> {
  const retry = plan.retryLossy ?? true;
  const clean = async (rate: number): Promise<boolean> => (await probe(rate)) < LOSS_LIMIT || (retry && (await probe(rate)) < LOSS_LIMIT);
  let good = 0;
  let bad = 0;
  for (let rate = plan.start; rate <= plan.max; rate = Math.round(rate * plan.factor)) {
    if (await clean(rate)) {
      good = rate;
    } else {
      bad = rate;
      break;
    }
  }
  if (bad === 0) return good;
  for (let i = 0; i < plan.refinements; i++) {
    const mid = Math.round((good + bad) / 2);
    if (await clean(mid)) good = mid;
    else bad = mid;
  }
  return good;
}
