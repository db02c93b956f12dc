// The lowest-peak rebalance among those with the fewest migrations, exactly, when the clients come
// in two weights (heavy and light: sendrecv and recvonly, the usual mix). Used by rebalance.ts.
//
// With the fewest migrations every reflector keeps min(current, target) of its own clients, so for
// each reflector and each allowed target size t the number h of heavy clients it ends with lies in
// an interval: over-full ones pick h from their own clients, under-full ones add movers to all of
// their own. A peak T then caps h further, and T is feasible when the reflectors can pick sizes
// (exactly `big` of them nr) and h values summing to the heavy total. A dynamic programme over the
// reflectors on (sizes picked so far, heavy clients so far) decides that; a binary search finds
// the lowest feasible T.

/** One reflector as the search sees it. */
export interface TwoWeightBin {
  heavy: number;
  light: number;
}

/** One reflector's outcome: its size and how many heavy clients it ends with. */
export interface TwoWeightShare {
  size: number;
  heavy: number;
}

interface Option {
  size: number;
  big: 0 | 1;
  lo: number;
  hi: number;
}

/** The sizes a reflector may take without adding migrations (see rebalance.ts for why). */
function allowedSizes(bins: readonly TwoWeightBin[], nr: number, big: number): number[][] {
  const full = bins.filter((b) => b.heavy + b.light >= nr).length;
  return bins.map((b) => {
    const isFull = b.heavy + b.light >= nr;
    if (full >= big) return isFull ? [nr, nr - 1] : [nr - 1];
    return isFull ? [nr] : [nr, nr - 1];
  });
}

function options(bin: TwoWeightBin, sizes: number[], nr: number): Option[] {
  return sizes
    .filter((t) => t >= 0)
    .map((t) => {
      const over = bin.heavy + bin.light >= t;
      const lo = over ? Math.max(0, t - bin.light) : bin.heavy;
      const hi = over ? Math.min(bin.heavy, t) : t - bin.light;
      return { size: t, big: t === nr ? 1 : 0, lo, hi };
    });
}

/** reach tables, one per reflector boundary: reach[j][b·(H+1)+s] = 1 when reachable. */
function reachTables(opts: Option[][], cap: (t: number) => number, big: number, heavyTotal: number): Uint8Array[] {
  const width = heavyTotal + 1;
  let reach = new Uint8Array((big + 1) * width);
  reach[0] = 1;
  const tables = [reach];
  const prefix = new Int32Array(width + 1);
  for (const binOptions of opts) {
    const next = new Uint8Array((big + 1) * width);
    for (const o of binOptions) {
      const hi = Math.min(o.hi, cap(o.size));
      if (hi < o.lo) continue;
      for (let b = 0; b + o.big <= big; b++) {
        const row = b * width;
        for (let s = 0; s < width; s++) prefix[s + 1] = prefix[s]! + reach[row + s]!;
        const out = (b + o.big) * width;
        for (let s = o.lo; s < width; s++) {
          // any reachable s − h with h in [lo, hi]
          const from = Math.max(0, s - hi);
          if (prefix[s - o.lo + 1]! - prefix[from]! > 0) next[out + s] = 1;
        }
      }
    }
    tables.push(next);
    reach = next;
  }
  return tables;
}

function walkBack(tables: Uint8Array[], opts: Option[][], cap: (t: number) => number, big: number, heavyTotal: number): TwoWeightShare[] {
  const width = heavyTotal + 1;
  const shares = new Array<TwoWeightShare>(opts.length);
  let b = big;
  let s = heavyTotal;
  for (let j = opts.length - 1; j >= 0; j--) {
    const before = tables[j]!;
    let found: TwoWeightShare | undefined;
    for (const o of opts[j]!) {
      const hi = Math.min(o.hi, cap(o.size));
      for (let h = o.lo; h <= hi && h <= s && !found; h++) {
        if (b - o.big >= 0 && before[(b - o.big) * width + s - h]) found = { size: o.size, heavy: h };
      }
      if (found) {
        b -= o.big;
        s -= found.heavy;
        break;
      }
    }
    if (!found) throw new Error('rebalance: inconsistent reach table (a bug in the model)');
    shares[j] = found;
  }
  return shares;
}

/**
 * The sizes and heavy counts with the lowest peak among plans with the fewest migrations. `bins`
 * are the reflectors of the new mesh with their own clients; `heavyTotal` counts every heavy
 * client, including those of removed reflectors. `big` reflectors take nr clients and the others
 * nr−1; heavy and light clients weigh wHeavy > wLight.
 */
export function lowestPeakTwoWeights(
  bins: readonly TwoWeightBin[],
  heavyTotal: number,
  nr: number,
  big: number,
  wHeavy: number,
  wLight: number,
): TwoWeightShare[] {
  const sizes = allowedSizes(bins, nr, big);
  const opts = bins.map((bin, j) => options(bin, sizes[j]!, nr));
  const d = wHeavy - wLight;
  const capUnder = (peak: number) => (t: number) => (peak < t * wLight ? -1 : Math.floor((peak - t * wLight) / d));
  const feasible = (peak: number): Uint8Array[] | undefined => {
    const tables = reachTables(opts, capUnder(peak), big, heavyTotal);
    return tables[tables.length - 1]![big * (heavyTotal + 1) + heavyTotal] ? tables : undefined;
  };
  let lo = 0;
  let hi = nr * wHeavy;
  let tables = feasible(hi);
  if (!tables) throw new Error('rebalance: no plan under the largest possible peak (a bug in the model)');
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const found = feasible(mid);
    if (found) {
      hi = mid;
      tables = found;
    } else {
      lo = mid + 1;
    }
  }
  return walkBack(tables, opts, capUnder(hi), big, heavyTotal);
}
