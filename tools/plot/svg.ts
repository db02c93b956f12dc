// The project's one SVG plotter: plain SVG written by hand (a few lines and labels do not need a
// charting library). The frame (title, grid, ticks, axis labels) and its helpers serve `rmesh plan
// --plot` (cli/plan-plot.ts), which draws its own lines inside; lineChartSvg draws the benchmarks'
// line charts (bench/mesh, bench/erum).

export interface ChartLayout {
  width: number;
  height: number;
  margin: { left: number; right: number; top: number; bottom: number };
}

/** The plotting area inside a layout's margins. */
export function plotArea(layout: ChartLayout): { left: number; top: number; width: number; height: number; bottom: number; right: number } {
  const { left, top } = layout.margin;
  const width = layout.width - left - layout.margin.right;
  const height = layout.height - top - layout.margin.bottom;
  return { left, top, width, height, bottom: top + height, right: left + width };
}

/** Viridis stops: an ordered palette (series are often ordered, as m is); readable in grey and by the colour-blind. */
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

/** The upper end of an axis: the largest value plus 10%, rounded up to a tick. */
export function axisMax(values: number[]): number {
  const most = Math.max(1, ...values.filter(Number.isFinite));
  const step = tickStep(most * 1.1, 8);
  return Math.ceil((most * 1.1) / step) * step;
}

/** The opening of a chart: the svg element, a white background, the plot area as clip path "plot" if asked, the title. */
export function svgOpen(layout: ChartLayout, title: string, options: { clip?: boolean } = {}): string[] {
  const area = plotArea(layout);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${layout.width}" height="${layout.height}" fill="white"/>`,
  ];
  if (options.clip) out.push(`<defs><clipPath id="plot"><rect x="${area.left}" y="${area.top}" width="${area.width}" height="${area.height}"/></clipPath></defs>`);
  out.push(`<text x="${layout.margin.left}" y="26" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  return out;
}

export interface Axes {
  /** Value to pixel, each axis. */
  x: (v: number) => number;
  y: (v: number) => number;
  xTicks: number[];
  yTicks: number[];
  xLabel: string;
  yLabel: string;
  /** The x label's baseline above the bottom edge (px). */
  xLabelGap: number;
}

/** Grid lines with tick labels, the plot area's frame, and both axes' labels. */
export function axesSvg(layout: ChartLayout, axes: Axes): string[] {
  const area = plotArea(layout);
  const out: string[] = [];
  for (const v of axes.yTicks) {
    out.push(`<line x1="${area.left}" x2="${area.right}" y1="${axes.y(v)}" y2="${axes.y(v)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${area.left - 8}" y="${axes.y(v) + 4}" text-anchor="end" fill="#333">${label(v)}</text>`);
  }
  for (const v of axes.xTicks) {
    out.push(`<line x1="${axes.x(v)}" x2="${axes.x(v)}" y1="${area.top}" y2="${area.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${axes.x(v)}" y="${area.bottom + 18}" text-anchor="middle" fill="#333">${label(v)}</text>`);
  }
  out.push(`<rect x="${area.left}" y="${area.top}" width="${area.width}" height="${area.height}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${area.left + area.width / 2}" y="${layout.height - axes.xLabelGap}" text-anchor="middle">${escapeXml(axes.xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${area.top + area.height / 2}) rotate(-90)" text-anchor="middle">${escapeXml(axes.yLabel)}</text>`);
  return out;
}

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

const LINE_CHART: ChartLayout = { width: 900, height: 520, margin: { left: 72, right: 250, top: 52, bottom: 58 } };

/** A line chart: x and y numeric, a few series with their points marked, a legend on the right. */
export function lineChartSvg(chart: LineChart): string {
  const area = plotArea(LINE_CHART);
  const all = chart.series.flatMap((s) => s.points);
  const xMin = Math.min(...all.map((p) => p.x), 0);
  const xMax = axisMax(all.map((p) => p.x));
  const yMax = axisMax(all.map((p) => p.y));
  const x = (v: number): number => area.left + ((v - xMin) / (xMax - xMin)) * area.width;
  const y = (v: number): number => area.top + area.height - (v / yMax) * area.height;
  const xTicks = ticks(xMax, 10, chart.integerX ?? false).filter((t) => t >= xMin);
  const out = [...svgOpen(LINE_CHART, chart.title), ...axesSvg(LINE_CHART, { x, y, xTicks, yTicks: ticks(yMax, 8, false), xLabel: chart.xLabel, yLabel: chart.yLabel, xLabelGap: 16 })];
  const left = LINE_CHART.width - LINE_CHART.margin.right + 16;
  chart.series.forEach((s, i) => {
    const stroke = s.stroke ?? colour(i, chart.series.length);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const points = s.points.map((p) => `${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${stroke}" stroke-width="2"${dash} stroke-linejoin="round" points="${points}"/>`);
    for (const p of s.points) out.push(`<circle cx="${x(p.x).toFixed(1)}" cy="${y(p.y).toFixed(1)}" r="3.5" fill="${stroke}" stroke="white" stroke-width="1"/>`);
    const top = area.top + 8 + i * 22;
    out.push(`<line x1="${left}" x2="${left + 24}" y1="${top}" y2="${top}" stroke="${stroke}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${left + 30}" y="${top + 4}">${escapeXml(s.name)}</text>`);
  });
  (chart.notes ?? []).forEach((note, i) => {
    out.push(`<text x="${left}" y="${area.top + 8 + chart.series.length * 22 + 14 + i * 15}" fill="#555" font-size="11">${escapeXml(note)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
