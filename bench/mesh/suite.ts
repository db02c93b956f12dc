// The mesh-capacity suite: for m = 1..6 real `rmesh reflector` processes in a full mesh on loopback,
// the largest client count (all send and receive) with loss under 1% at a per-client bitrate scaled to
// one machine, beside the capacity model's prediction with the per-reflector budget measured at m = 1,
// and beside what one shared machine allows. The scalability test of the Erum study, scaled down.
import { startMesh, type ReflectorProcess } from '../../test/support/reflector-process.js';
import { BENCH_MESH_KEY, benchMesh } from '../lib/reflectors.js';
import { fixed } from '../lib/stats.js';
import { lineChartSvg } from '../../tools/plot/svg.js';
import type { Suite, SuiteContext } from '../lib/suite.js';
import { budgetFromSingleReflector, largestPassing, modelMaxClients, oneMachineMaxClients } from './capacity.js';
import { runClients, windowLoss } from './clients.js';

export const LOSS_LIMIT = 0.01;

/**
 * 0.4 Mbit/s of 1000-byte datagrams: 50 datagrams/s per stream. A real deployment sends tens of Mbit/s
 * per stream and one reflector fills a NIC; here the reflectors and every client share 2 CPUs, so the
 * bitrate is scaled down until one reflector saturates at a moderate client count (a few hundred
 * streams out), and the model is fed the budget this bitrate measures at m = 1. BENCH_MESH_BITRATE
 * (bit/s) overrides it.
 */
const BITRATE_BPS = Number(process.env.BENCH_MESH_BITRATE ?? 400_000);
const PACKET_SIZE = 1000;
/** A trial passes when the senders fell short of their schedule by less than this, too. */
const SHORTFALL_LIMIT = 0.01;

interface Plan {
  reflectors: number[];
  start: number;
  max: number;
  /** The search stops when the last pass and the first failure are this close. */
  resolution: number;
  /**
   * ms between two joins with m ≥ 2 (m = 1: a fifth of it). Admission sends a client to the reflector
   * with the fewest clients as the keep-alives (every 300 ms here) last reported them: joins much closer
   * than that pile up on one reflector.
   */
  staggerMs: number;
  warmupMs: number;
  windowMs: number;
  /** A lossy trial is tried again once before it counts (the machine is shared). */
  retryLossy: boolean;
}

const PLANS: Record<'full' | 'quick', Plan> = {
  full: { reflectors: [1, 2, 3, 4, 5, 6], start: 12, max: 80, resolution: 1, staggerMs: 120, warmupMs: 1500, windowMs: 3000, retryLossy: true },
  quick: { reflectors: [1, 2, 3], start: 16, max: 48, resolution: 4, staggerMs: 60, warmupMs: 400, windowMs: 1000, retryLossy: false },
};

// 127.0.8.20.. reflectors (their ports asked of the OS), 127.0.8.100.. clients.
const REFLECTOR_PREFIX = '127.0.8.';
const FIRST_REFLECTOR_HOST = 20;
const clientAddress = (i: number): string => `127.0.8.${100 + i}`;

export interface Trial {
  m: number;
  n: number;
  loss: number;
  lost: number;
  expected: number;
  /** Datagrams the senders' pacers gave up on (the clients' process fell behind), and their share. */
  behindSchedule: number;
  shortfall: number;
  /** Clients per reflector at the end, as the clients report it. */
  placement: number[];
  pass: boolean;
  error?: string;
}

export interface MeshRow {
  m: number;
  measured: number;
  model: number;
  oneMachine: number;
}

async function trial(reflectors: ReflectorProcess[], n: number, plan: Plan): Promise<Trial> {
  const m = reflectors.length;
  try {
    const clients = await runClients({
      join: reflectors.map((r) => r.id),
      meshKey: BENCH_MESH_KEY,
      addresses: Array.from({ length: n }, (_, i) => clientAddress(i)),
      staggerMs: m === 1 ? plan.staggerMs / 5 : plan.staggerMs,
      warmupMs: plan.warmupMs,
      windowMs: plan.windowMs,
      bitrateBps: BITRATE_BPS,
      packetSize: PACKET_SIZE,
      groups: 2,
    });
    const w = windowLoss(clients, (plan.windowMs / 1000) * (BITRATE_BPS / 8 / PACKET_SIZE));
    const placement = reflectors.map((r) => clients.filter((c) => c.report.reflector === r.id).length);
    return { m, n, ...w, placement, pass: w.loss < LOSS_LIMIT && w.shortfall < SHORTFALL_LIMIT };
  } catch (err) {
    return { m, n, loss: 1, lost: 0, expected: 0, behindSchedule: 0, shortfall: 0, placement: [], pass: false, error: (err as Error).message };
  }
}

export async function measureCapacity(plan: Plan, log: SuiteContext['log']): Promise<{ trials: Trial[]; measured: Map<number, number> }> {
  const trials: Trial[] = [];
  const measured = new Map<number, number>();
  let start = plan.start;
  for (const m of plan.reflectors) {
    const reflectors = await startMesh(benchMesh(m, REFLECTOR_PREFIX, FIRST_REFLECTOR_HOST));
    try {
      const best = await largestPassing({ start, max: plan.max, resolution: plan.resolution }, async (n) => {
        let t = await trial(reflectors, n, plan);
        if (!t.pass && plan.retryLossy && !t.error) t = await trial(reflectors, n, plan);
        trials.push(t);
        log(`m=${m} n=${n}: loss ${(t.loss * 100).toFixed(2)}% (${t.lost}/${t.expected}), placement ${t.placement.join('/')}, senders short ${(t.shortfall * 100).toFixed(2)}% -> ${t.pass ? 'pass' : 'FAIL'}${t.error ? ` (${t.error})` : ''}`);
        return t.pass;
      });
      measured.set(m, best);
      log(`m=${m}: largest client count with loss < ${LOSS_LIMIT * 100}%: ${best}`);
      start = Math.max(2, best);
    } finally {
      await Promise.all(reflectors.map((r) => r.stop(3000)));
    }
  }
  return { trials, measured };
}

/** The table's rows: measured beside the model fed with the budget measured at m = 1. */
export function capacityRows(measured: ReadonlyMap<number, number>): { budgetStreams: number; rows: MeshRow[] } {
  const n1 = measured.get(1) ?? 0;
  const budgetStreams = budgetFromSingleReflector(n1);
  const rows = [...measured.entries()].map(([m, n]) => ({ m, measured: n, model: modelMaxClients(m, budgetStreams), oneMachine: oneMachineMaxClients(m, budgetStreams) }));
  return { budgetStreams, rows };
}

export function capacityMarkdown(budgetStreams: number, rows: MeshRow[], quick: boolean): string {
  const budgetMbps = (budgetStreams * BITRATE_BPS) / 1e6;
  const lines = [
    `## Mesh capacity: largest client count with loss < ${LOSS_LIMIT * 100}%${quick ? ' (quick mode)' : ''}`,
    '',
    `Every client sends and receives ${BITRATE_BPS / 1e6} Mbit/s (${PACKET_SIZE}-byte datagrams); reflectors are \`rmesh reflector\` processes in a full mesh on loopback. ` +
      `A client count passes when the clients lost < ${LOSS_LIMIT * 100}% of what they expected and their senders fell behind their schedule by < ${SHORTFALL_LIMIT * 100}% (load not offered does not count as carried). ` +
      `Per-reflector budget measured at m = 1: ${budgetStreams} streams (${fixed(budgetMbps)} Mbit/s out). ` +
      '"model" is the capacity model (out = nr·(m+n−2) within that budget per reflector, as on separate machines); ' +
      '"one machine" is the same budget shared by all reflectors (n·(n−1) deliveries + n·(m−1) peer copies).',
    '',
    '| m | measured | model (per-reflector budget) | one machine |',
    '|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.m} | ${r.measured} | ${r.model} | ${r.oneMachine} |`),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

export function capacitySvg(rows: MeshRow[], budgetStreams: number): string {
  return lineChartSvg({
    title: 'Mesh capacity: most clients with loss < 1%, measured vs model',
    xLabel: 'reflectors m',
    yLabel: `clients n (${BITRATE_BPS / 1e6} Mbit/s each, all send and receive)`,
    integerX: true,
    series: [
      { name: 'measured (one machine)', points: rows.map((r) => ({ x: r.m, y: r.measured })), stroke: '#c0392b' },
      { name: 'model, budget per reflector', points: rows.map((r) => ({ x: r.m, y: r.model })), stroke: '#31688e', dashed: true },
      { name: 'model, one shared machine', points: rows.map((r) => ({ x: r.m, y: r.oneMachine })), stroke: '#35b779', dashed: true },
    ],
    notes: [`budget from m = 1: ${budgetStreams} streams`, 'out = nr·(m+n−2) ≤ budget', 'per reflector (model) or', 'for the whole machine (one machine)'],
  });
}

export const meshCapacitySuite: Suite = {
  name: 'mesh',
  description: 'largest client count with loss < 1% for m reflectors in a full mesh, beside the capacity model',
  async run({ quick, log }) {
    const plan = { ...PLANS[quick ? 'quick' : 'full'] };
    // BENCH_MESH_REFLECTORS=1,2 measures only those mesh sizes (m = 1 is needed for the budget).
    if (process.env.BENCH_MESH_REFLECTORS) plan.reflectors = process.env.BENCH_MESH_REFLECTORS.split(',').map(Number);
    const { trials, measured } = await measureCapacity(plan, log);
    const { budgetStreams, rows } = capacityRows(measured);
    return {
      json: { bitrateBps: BITRATE_BPS, packetSize: PACKET_SIZE, lossLimit: LOSS_LIMIT, plan, budgetStreams, rows, trials },
      markdown: capacityMarkdown(budgetStreams, rows, quick),
      svgs: { capacity: capacitySvg(rows, budgetStreams) },
    };
  },
};
