// `rmesh plan`: size a mesh with the capacity model (design §3) before deploying it. `max-clients`
// lists the most clients each mesh size can serve; `size` picks the number of reflectors for a
// given number of clients, or says that no size in the bounds fits. Both can draw the picture.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { budgetOf, maxClients, placeCounts, plan, roleCounts, type Budget, type Plan } from '../model/index.js';
import { UsageError } from './errors.js';
import { parseFraction, parseNonNegativeInt, parsePositiveInt, parsePositiveNumber } from './option-parsers.js';
import { plotPeakSvg } from './plan-plot.js';

/** The most mesh sizes one command evaluates, and the most one plot draws. */
const MOST_REFLECTORS = 1000;
const MOST_PLOTTED = 32;

interface Range {
  min: number;
  max: number;
}

/** "N" or "MIN-MAX" reflectors. */
export function parseReflectorRange(value: string): Range {
  const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(value);
  if (!match) throw new InvalidArgumentError(`"${value}" is not a number of reflectors or a range MIN-MAX (example: 1-16).`);
  const min = Number(match[1]);
  const max = Number(match[2] ?? match[1]);
  if (min < 1) throw new InvalidArgumentError(`"${value}": a mesh has at least 1 reflector.`);
  if (max < min) throw new InvalidArgumentError(`"${value}": the range must go from the smaller to the larger number.`);
  if (max > MOST_REFLECTORS) throw new InvalidArgumentError(`"${value}": at most ${MOST_REFLECTORS} reflectors.`);
  return { min, max };
}

interface CommonOptions {
  capacityMbps: number;
  bitrateMbps: number;
  receiveOnly: number;
  headroom: number;
  json?: boolean;
  plot?: string;
}

interface MaxClientsOptions extends CommonOptions {
  reflectors: Range;
}

interface SizeOptions extends CommonOptions {
  clients: number;
  min: number;
  max: number;
}

/** One row of `rmesh plan max-clients`. */
export interface MaxClientsRow {
  reflectors: number;
  maxClients: number;
  clientsPerReflector: number;
  peakOutboundStreams: number;
  peakOutboundMbps: number;
  utilisation: number;
}

const COMMON_JSON_FIELDS = `  bitrateMbps, capacityMbps, headroom   the inputs
  budgetMbps       capacityMbps × (1 − headroom): what one reflector may send
  budgetStreams    ⌊budgetMbps / bitrateMbps⌋: the streams one reflector may send
  receiveOnly      receive-only clients among the clients`;

const MAX_CLIENTS_HELP = `
JSON output (--json), one object:
  command          "max-clients"
${COMMON_JSON_FIELDS}
  rows[]           one per number of reflectors, ascending:
    reflectors           m
    maxClients           the most clients m reflectors serve within the budget
                         (receiveOnly of them receive-only, the rest send and receive)
    clientsPerReflector  nr = ⌈maxClients / m⌉
    peakOutboundStreams  the busiest reflector's outbound streams at maxClients
    peakOutboundMbps     the same in Mbit/s
    utilisation          peakOutboundMbps / capacityMbps (0..1)
  best             { reflectors, maxClients }: the size serving the most clients (the smallest on ties)

Capacity is not monotonic in m: adding a reflector adds a peer copy of every stream, so more
reflectors can serve fewer clients. Every m in the range is evaluated.

Example:
  rmesh plan max-clients --capacity-mbps 905 --bitrate-mbps 30 --reflectors 1-16 --plot sizing.svg
`;

const SIZE_HELP = `
JSON output (--json), one object:
  command          "size"
  fits             true when some m in [min, max] keeps the busiest reflector within the budget
  reflectors       the smallest m that fits; when none fits, the m with the lowest peak
  reason           why, in words
  clients          n;  receiveOnly: receive-only clients among them
  clientsPerReflector, peakOutboundStreams, peakOutboundMbps, utilisation, maxClients
                   the numbers of the chosen m (utilisation = peakOutboundMbps / capacityMbps;
                   maxClients = the most clients that m can serve)
  budget           { bitrateMbps, capacityMbps, headroom, budgetMbps, budgetStreams }
  options[]        the same numbers for every m in [min, max], each with its own "fits"

The exit code is 0 whether or not a size fits (read "fits"); 2 for bad arguments.

Example:
  rmesh plan size --clients 40 --bitrate-mbps 2 --capacity-mbps 905 --max 16 --headroom 0.2
`;

function addCommonOptions(command: Command): Command {
  return command
    .requiredOption('--bitrate-mbps <mbps>', 'bitrate of one stream, Mbit/s', parsePositiveNumber)
    .requiredOption('--capacity-mbps <mbps>', 'outbound budget of one reflector, Mbit/s (e.g. 905 on 1 GbE)', parsePositiveNumber)
    .option('--receive-only <k>', 'how many of the clients only receive', parseNonNegativeInt, 0)
    .option('--headroom <fraction>', 'fraction of the budget kept free, in [0, 1)', parseFraction, 0)
    .option('--json', 'print one JSON object (fields below)')
    .option('--plot <file.svg>', 'also draw peak outbound Mbit/s against clients, one line per m, to an SVG file');
}

export function register(program: Command): void {
  const planCommand = program
    .command('plan')
    .description('size a mesh with the capacity model before deploying it (see docs/capacity-model.md)');
  addCommonOptions(
    planCommand
      .command('max-clients')
      .description('the most clients each number of reflectors can serve within one reflector\'s budget')
      .requiredOption('--reflectors <range>', 'numbers of reflectors to evaluate: N or MIN-MAX', parseReflectorRange),
  )
    .addHelpText('after', MAX_CLIENTS_HELP)
    .action((options: MaxClientsOptions) => runMaxClients(options));
  addCommonOptions(
    planCommand
      .command('size')
      .description('the number of reflectors for a number of clients, and why (or that none fits)')
      .requiredOption('--clients <n>', 'how many clients the mesh must serve', parseNonNegativeInt),
  )
    .option('--min <m>', 'the fewest reflectors to consider', parsePositiveInt, 1)
    .option('--max <m>', 'the most reflectors to consider', parsePositiveInt, 16)
    .addHelpText('after', SIZE_HELP)
    .action((options: SizeOptions) => runSize(options));
}

function budgetFrom(options: CommonOptions): Budget {
  return budgetOf(options.bitrateMbps, options.capacityMbps, options.headroom);
}

function maxClientsRow(m: number, budget: Budget, receiveOnly: number): MaxClientsRow {
  const most = maxClients(m, budget.budgetStreams, { recvonly: receiveOnly });
  const placed = placeCounts(m, roleCounts({ sendrecv: most - Math.min(most, receiveOnly), recvonly: Math.min(most, receiveOnly) }));
  const peakOutboundMbps = placed.peakOutboundStreams * budget.bitrateMbps;
  return {
    reflectors: m,
    maxClients: most,
    clientsPerReflector: placed.clientsPerReflector,
    peakOutboundStreams: placed.peakOutboundStreams,
    peakOutboundMbps,
    utilisation: peakOutboundMbps / budget.capacityMbps,
  };
}

function runMaxClients(options: MaxClientsOptions): void {
  const { min, max } = options.reflectors;
  checkPlotRange(options.plot, min, max);
  const budget = budgetFrom(options);
  const rows: MaxClientsRow[] = [];
  for (let m = min; m <= max; m++) rows.push(maxClientsRow(m, budget, options.receiveOnly));
  const best = rows.reduce((a, b) => (b.maxClients > a.maxClients ? b : a));
  if (options.plot) {
    writePlot(options.plot, {
      title: `Sizing: ${label(budget.bitrateMbps)} Mbit/s streams, ${label(budget.capacityMbps)} Mbit/s per reflector`,
      bitrateMbps: budget.bitrateMbps,
      capacityMbps: budget.capacityMbps,
      budgetMbps: budget.budgetMbps,
      reflectors: rows.map((r) => r.reflectors),
      receiveOnly: options.receiveOnly,
      maxClients: new Map(rows.map((r) => [r.reflectors, r.maxClients])),
    });
  }
  if (options.json) {
    const out = { command: 'max-clients', ...budgetFields(budget), receiveOnly: options.receiveOnly, rows, best: { reflectors: best.reflectors, maxClients: best.maxClients } };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(maxClientsText(rows, best, budget, options.receiveOnly));
  }
}

function runSize(options: SizeOptions): void {
  if (options.min > options.max) throw new UsageError(`--min ${options.min} is more than --max ${options.max}; give --min <= --max.`);
  if (options.max > MOST_REFLECTORS) throw new UsageError(`--max ${options.max}: at most ${MOST_REFLECTORS} reflectors.`);
  if (options.receiveOnly > options.clients) {
    throw new UsageError(`--receive-only ${options.receiveOnly} is more than --clients ${options.clients}; it counts clients among them.`);
  }
  checkPlotRange(options.plot, options.min, options.max);
  const result = plan({
    clients: roleCounts({ sendrecv: options.clients - options.receiveOnly, recvonly: options.receiveOnly }),
    bitrateMbps: options.bitrateMbps,
    capacityMbps: options.capacityMbps,
    headroom: options.headroom,
    minReflectors: options.min,
    maxReflectors: options.max,
  });
  if (options.plot) {
    writePlot(options.plot, {
      title: `Sizing ${options.clients} clients: ${label(result.budget.bitrateMbps)} Mbit/s streams, ${label(result.budget.capacityMbps)} Mbit/s per reflector`,
      bitrateMbps: result.budget.bitrateMbps,
      capacityMbps: result.budget.capacityMbps,
      budgetMbps: result.budget.budgetMbps,
      reflectors: result.options.map((o) => o.reflectors),
      receiveOnly: options.receiveOnly,
      maxClients: new Map(result.options.map((o) => [o.reflectors, o.maxClients])),
      clients: options.clients,
      ...(result.fits ? { chosen: result.reflectors } : {}),
    });
  }
  if (options.json) {
    const { reason, fits, reflectors, clients, ...rest } = result;
    const out = { command: 'size', fits, reflectors, reason, clients, receiveOnly: options.receiveOnly, ...rest };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(sizeText(result, options.receiveOnly));
  }
}

function checkPlotRange(plot: string | undefined, min: number, max: number): void {
  if (plot !== undefined && max - min + 1 > MOST_PLOTTED) {
    throw new UsageError(`--plot draws at most ${MOST_PLOTTED} mesh sizes, and ${min}-${max} is ${max - min + 1}; narrow the range.`);
  }
  if (plot !== undefined && !plot.toLowerCase().endsWith('.svg')) throw new UsageError(`--plot ${plot}: the plot is SVG; give a file name ending in .svg.`);
}

function writePlot(file: string, input: Parameters<typeof plotPeakSvg>[0]): void {
  try {
    writeFileSync(file, plotPeakSvg(input));
  } catch (err) {
    throw new Error(`cannot write the plot to ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  process.stderr.write(`rmesh plan: wrote ${file}\n`);
}

function budgetFields(budget: Budget): Record<string, number> {
  return { bitrateMbps: budget.bitrateMbps, capacityMbps: budget.capacityMbps, headroom: budget.headroom, budgetMbps: budget.budgetMbps, budgetStreams: budget.budgetStreams };
}

function label(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toFixed(3)));
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

function budgetLine(budget: Budget): string {
  const headroom = budget.headroom > 0 ? `, ${percent(budget.headroom)} kept free` : '';
  return (
    `Streams of ${label(budget.bitrateMbps)} Mbit/s; one reflector may send ${label(budget.capacityMbps)} Mbit/s${headroom}: ` +
    `a budget of ${label(budget.budgetMbps)} Mbit/s = ${budget.budgetStreams} streams.\n`
  );
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function maxClientsText(rows: MaxClientsRow[], best: MaxClientsRow, budget: Budget, receiveOnly: number): string {
  let out = budgetLine(budget);
  if (receiveOnly > 0) out += `${receiveOnly} of the clients only receive.\n`;
  out += '\n';
  out += table(
    ['reflectors', 'max clients', 'clients/reflector', 'peak streams', 'peak Mbit/s', 'utilisation'],
    rows.map((r) => [String(r.reflectors), String(r.maxClients), String(r.clientsPerReflector), String(r.peakOutboundStreams), r.peakOutboundMbps.toFixed(1), percent(r.utilisation)]),
  );
  out += `\nMost clients: ${best.maxClients}, with ${best.reflectors} reflector${best.reflectors === 1 ? '' : 's'}.\n`;
  // Name each size that serves fewer clients than some smaller size: the non-monotonicity.
  const dips = rows.flatMap((r, i) => {
    const better = rows.slice(0, i).reduce<MaxClientsRow | undefined>((a, b) => (b.maxClients > (a?.maxClients ?? -1) ? b : a), undefined);
    return better && better.maxClients > r.maxClients ? [`${r.reflectors} serve ${r.maxClients} (${better.reflectors} serve ${better.maxClients})`] : [];
  });
  if (dips.length > 0) out += `More reflectors can serve fewer clients: ${dips.join('; ')}.\n`;
  return out;
}

function sizeText(result: Plan, receiveOnly: number): string {
  let out = budgetLine(result.budget);
  out += `${result.clients} clients${receiveOnly > 0 ? `, ${receiveOnly} of them receive-only` : ''}.\n\n`;
  out += result.fits ? `Use ${result.reflectors} reflector${result.reflectors === 1 ? '' : 's'}: ${result.reason}\n\n` : `No size fits: ${result.reason}\n\n`;
  out += table(
    ['reflectors', 'clients/reflector', 'peak streams', 'peak Mbit/s', 'utilisation', 'fits', 'max clients'],
    result.options.map((o) => [
      String(o.reflectors),
      String(o.clientsPerReflector),
      String(o.peakOutboundStreams),
      o.peakOutboundMbps.toFixed(1),
      percent(o.utilisation),
      o.fits ? 'yes' : 'no',
      String(o.maxClients),
    ]),
  );
  return out;
}
