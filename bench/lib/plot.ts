// A small line chart for the benchmarks (x and y numeric, a few series, points marked), drawn with the
// axis, tick and colour helpers of `rmesh plan --plot` (cli/plan-plot.ts) so the project has one way
// of drawing SVG.
import { colour, escapeXml, label, tickStep, ticks } from '../../cli/plan-plot.js';

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
  /** A fixed colour; otherwise one of the ordered palette by the series' index. */
  stroke?: string;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Notes under the legend, one line each. */
  notes?: string[];
  /** x axis ticks at integers only (m = 1..6). */
  integerX?: boolean;
}

const WIDTH = 900;
const HEIGHT = 520;
const MARGIN = { left: 72, right: 250, top: 52, bottom: 58 };
const PLOT_W = WIDTH - MARGIN.left - MARGIN.right;
const PLOT_H = HEIGHT - MARGIN.top - MARGIN.bottom;

/** The upper end of an axis: the largest value plus 10%, rounded up to a tick. */
export function axisMax(values: number[]): number {
  const most = Math.max(1, ...values.filter(Number.isFinite));
  const step = tickStep(most * 1.1, 8);
  return Math.ceil((most * 1.1) / step) * step;
}

export function lineChartSvg(chart: LineChart): string {
  const all = chart.series.flatMap((s) => s.points);
  const xMin = Math.min(...all.map((p) => p.x), 0);
  const xMax = axisMax(all.map((p) => p.x));
  const yMax = axisMax(all.map((p) => p.y));
  const x = (v: number): number => MARGIN.left + ((v - xMin) / (xMax - xMin)) * PLOT_W;
  const y = (v: number): number => MARGIN.top + PLOT_H - (v / yMax) * PLOT_H;
  const bottom = MARGIN.top + PLOT_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="26" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  for (const v of ticks(yMax, 8, false)) {
    out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + PLOT_W}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${y(v) + 4}" text-anchor="end" fill="#333">${label(v)}</text>`);
  }
  for (const v of ticks(xMax, 10, chart.integerX ?? false).filter((t) => t >= xMin)) {
    out.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${MARGIN.top}" y2="${bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(v)}" y="${bottom + 18}" text-anchor="middle" fill="#333">${label(v)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${PLOT_W}" height="${PLOT_H}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${MARGIN.left + PLOT_W / 2}" y="${HEIGHT - 16}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${MARGIN.top + PLOT_H / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`);
  const left = WIDTH - MARGIN.right + 16;
  chart.series.forEach((s, i) => {
    const stroke = s.stroke ?? colour(i, chart.series.length);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const points = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${stroke}" stroke-width="2"${dash} stroke-linejoin="round" points="${points}"/>`);
    for (const p of s.points) out.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.5" fill="${stroke}" stroke="white" stroke-width="1"/>`);
    const top = MARGIN.top + 8 + i * 22;
    out.push(`<line x1="${left}" x2="${left + 24}" y1="${top}" y2="${top}" stroke="${stroke}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${left + 30}" y="${top + 4}">${escapeXml(s.name)}</text>`);
  });
  (chart.notes ?? []).forEach((note, i) => {
    out.push(`<text x="${left}" y="${MARGIN.top + 8 + chart.series.length * 22 + 14 + i * 15}" fill="#555" font-size="11">${escapeXml(note)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
