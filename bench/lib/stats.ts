// Summary statistics of the benchmarks' samples (gaps, failover times, reconcile costs), apart from any
// I/O so the unit tests can check them.

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * The nearest-rank percentile: the smallest sample with at least `p` of the samples at or below it
 * (p in [0, 1]). NaN for no samples. Nearest-rank, not interpolated: every figure reported was observed.
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`percentile ${p} is outside [0, 1]`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1]!;
}

export function summarize(values: readonly number[]): Summary {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  return {
    count: values.length,
    min: values.length ? Math.min(...values) : NaN,
    p50: percentile(values, 0.5),
    p90: percentile(values, 0.9),
    p99: percentile(values, 0.99),
    max: values.length ? Math.max(...values) : NaN,
    mean,
  };
}

/** "12.3" (or "–" for NaN/undefined): the tables' number format. */
export function fixed(value: number | null | undefined, digits = 1): string {
  return value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);
}
