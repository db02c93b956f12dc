// The sizing picture of `rmesh plan --plot`: the peak outbound Mbit/s of one reflector against the
// number of clients, one line per mesh size m, with the reflector's budget as a horizontal line.
// Plain SVG written by hand: a few lines and labels do not need a charting library. The helpers (ticks,
// colours, escaping) are exported for the benchmarks' plots (bench/lib/plot.ts).
import { lowestPeak, roleCounts } from '../model/index.js';

export interface PlotInput {
  title: string;
  bitrateMbps: number;
  capacityMbps: number;
  /** The budget after headroom (equal to capacityMbps without headroom). */
  budgetMbps: number;
  /** The mesh sizes to draw, ascending. */
  reflectors: number[];
  /** Receive-only clients among the n (the first min(K, n) clients are receive-only). */
  receiveOnly: number;
  /** m → the most clients m reflectors can serve: marked on each line. */
  maxClients: ReadonlyMap<number, number>;
  /** A client count to mark with a vertical line (rmesh plan size). */
  clients?: number;
  /** The chosen m, drawn thicker (rmesh plan size). */
  chosen?: number;
}

const WIDTH = 960;
const HEIGHT = 580;
const MARGIN = { left: 78, right: 230, top: 56, bottom: 62 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

/** Viridis stops: an ordered palette, since m is ordered; readable in grey and by the colour-blind. */
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#e5c218'];

export function colour(index: number, count: number): string {
  if (count <= 1) return VIRIDIS[3]!;
  return VIRIDIS[Math.round((index / (count - 1)) * (VIRIDIS.length - 1))]!;
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A step of 1, 2 or 5 times a power of ten giving about `target` ticks over [0, max]. */
export function tickStep(max: number, target: number): number {
  const raw = max / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * power).find((s) => raw <= s)!;
  return Math.max(step, 1e-9);
}

export function ticks(max: number, target: number, integer: boolean): number[] {
  const step = integer ? Math.max(1, Math.round(tickStep(max, target))) : tickStep(max, target);
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(9)));
  return out;
}

export function label(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

function peakMbps(m: number, n: number, receiveOnly: number, bitrateMbps: number): number {
  const recvonly = Math.min(receiveOnly, n);
  return lowestPeak(m, roleCounts({ sendrecv: n - recvonly, recvonly })) * bitrateMbps;
}

/** The client axis: past the largest mesh's capacity and the marked client count, with margin. */
function clientAxisMax(input: PlotInput): number {
  const most = Math.max(10, ...input.maxClients.values(), input.clients ?? 0);
  return Math.ceil((most * 1.25) / tickStep(most * 1.25, 8)) * tickStep(most * 1.25, 8);
}

export function plotPeakSvg(input: PlotInput): string {
  const xMax = clientAxisMax(input);
  const yMax = input.capacityMbps * 1.6;
  const x = (n: number): number => MARGIN.left + (n / xMax) * PLOT_W;
  const y = (mbps: number): number => MARGIN.top + PLOT_H - (Math.min(mbps, yMax * 1.05) / yMax) * PLOT_H;
  const step = Math.max(1, Math.ceil(xMax / 1500)); // at most ~1500 points per line
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">`);
  parts.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  parts.push(`<defs><clipPath id="plot"><rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}"/></clipPath></defs>`);
  parts.push(`<text x="${MARGIN.left}" y="26" font-size="16" font-weight="bold">${escapeXml(input.title)}</text>`);
  parts.push(...axes(input, xMax, yMax, x, y));
  const labelled: { x: number; y: number }[] = [];
  input.reflectors.forEach((m, i) => {
    const points: string[] = [];
    let exit: number | undefined; // where the line leaves the top of the plot: its label goes there
    for (let n = 0; n <= xMax; n += step) {
      const v = peakMbps(m, n, input.receiveOnly, input.bitrateMbps);
      points.push(`${x(n).toFixed(1)},${y(v).toFixed(1)}`);
      if (exit === undefined && v >= yMax) exit = n;
    }
    const stroke = colour(i, input.reflectors.length);
    const width = input.chosen === m ? 3.5 : 1.6;
    parts.push(`<polyline clip-path="url(#plot)" fill="none" stroke="${stroke}" stroke-width="${width}" stroke-linejoin="round" points="${points.join(' ')}"/>`);
    // Label the line where it leaves the top, or at its right end; lift a label that would
    // overlap one already placed.
    const lx = exit === undefined ? x(xMax) + 5 : x(exit);
    let ly = exit === undefined ? y(peakMbps(m, xMax, input.receiveOnly, input.bitrateMbps)) + 4 : MARGIN.top - 6;
    while (labelled.some((l) => Math.abs(l.x - lx) < 14 && Math.abs(l.y - ly) < 11)) ly -= 11;
    labelled.push({ x: lx, y: ly });
    parts.push(`<text x="${lx.toFixed(1)}" y="${ly.toFixed(1)}" text-anchor="${exit === undefined ? 'start' : 'middle'}" font-size="11" fill="${stroke}">${m}</text>`);
  });
  parts.push(...budgetLines(input, x, y, xMax));
  parts.push(...markers(input, x, y));
  parts.push(...legend(input));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function axes(input: PlotInput, xMax: number, yMax: number, x: (n: number) => number, y: (v: number) => number): string[] {
  const out: string[] = [];
  const bottom = MARGIN.top + PLOT_H;
  for (const v of ticks(yMax, 8, false)) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${y(v) + 4}" text-anchor="end" fill="#333">${label(v)}</text>`);
  }
  for (const n of ticks(xMax, 10, true)) {
    out.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${MARGIN.top}" y2="${bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(n)}" y="${bottom + 18}" text-anchor="middle" fill="#333">${n}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#888"/>`);
  const clientsLabel = input.receiveOnly > 0 ? `clients n (${input.receiveOnly} of them receive-only)` : 'clients n (all send and receive)';
  out.push(`<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 18}" text-anchor="middle">${escapeXml(clientsLabel)}</text>`);
  out.push(
    `<text transform="translate(20 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">peak outbound Mbit/s of one reflector (${label(input.bitrateMbps)} Mbit/s per stream)</text>`,
  );
  return out;
}

function budgetLines(input: PlotInput, x: (n: number) => number, y: (v: number) => number, xMax: number): string[] {
  const out: string[] = [];
  const right = x(xMax);
  out.push(`<line x1="${MARGIN.left}" x2="${right}" y1="${y(input.capacityMbps)}" y2="${y(input.capacityMbps)}" stroke="#c0392b" stroke-width="2"/>`);
  out.push(`<text x="${right - 6}" y="${y(input.capacityMbps) - 6}" text-anchor="end" fill="#c0392b" stroke="white" stroke-width="4" paint-order="stroke">capacity ${label(input.capacityMbps)} Mbit/s</text>`);
  if (input.budgetMbps < input.capacityMbps) {
    out.push(`<line x1="${MARGIN.left}" x2="${right}" y1="${y(input.budgetMbps)}" y2="${y(input.budgetMbps)}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${right - 6}" y="${y(input.budgetMbps) + 16}" text-anchor="end" fill="#c0392b" stroke="white" stroke-width="4" paint-order="stroke">budget after headroom ${label(input.budgetMbps)} Mbit/s</text>`);
  }
  if (input.clients !== undefined) {
    out.push(`<line x1="${x(input.clients)}" x2="${x(input.clients)}" y1="${MARGIN.top}" y2="${MARGIN.top + PLOT_H}" stroke="#555" stroke-width="1.2" stroke-dasharray="3 3"/>`);
    out.push(`<text x="${x(input.clients) + 5}" y="${MARGIN.top + 14}" fill="#555" stroke="white" stroke-width="4" paint-order="stroke">n = ${input.clients}</text>`);
  }
  return out;
}

/** A dot where each line is at its most clients: the last n within the budget. */
function markers(input: PlotInput, x: (n: number) => number, y: (v: number) => number): string[] {
  return input.reflectors.map((m, i) => {
    const n = input.maxClients.get(m) ?? 0;
    const v = peakMbps(m, n, input.receiveOnly, input.bitrateMbps);
    return `<circle cx="${x(n).toFixed(1)}" cy="${y(v).toFixed(1)}" r="4" fill="${colour(i, input.reflectors.length)}" stroke="white" stroke-width="1"/>`;
  });
}

function legend(input: PlotInput): string[] {
  const out: string[] = [];
  const left = WIDTH - MARGIN.right + 16;
  out.push(`<text x="${left}" y="${MARGIN.top + 4}" font-weight="bold">m: most clients</text>`);
  const rowHeight = Math.min(20, (PLOT_H - 40) / Math.max(1, input.reflectors.length));
  input.reflectors.forEach((m, i) => {
    const top = MARGIN.top + 22 + i * rowHeight;
    const bold = input.chosen === m ? ' font-weight="bold"' : '';
    out.push(`<line x1="${left}" x2="${left + 22}" y1="${top}" y2="${top}" stroke="${colour(i, input.reflectors.length)}" stroke-width="${input.chosen === m ? 3.5 : 2}"/>`);
    out.push(`<text x="${left + 28}" y="${top + 4}"${bold}>m = ${m}: ${input.maxClients.get(m) ?? 0}</text>`);
  });
  const note = MARGIN.top + 22 + input.reflectors.length * rowHeight + 14;
  out.push(`<text x="${left}" y="${note}" fill="#555" font-size="11">dot: the most clients within</text>`);
  out.push(`<text x="${left}" y="${note + 14}" fill="#555" font-size="11">the budget for that m;</text>`);
  out.push(`<text x="${left}" y="${note + 28}" fill="#555" font-size="11">numbers on top: m of each line</text>`);
  return out;
}
