// The migration-and-failover suite's pure part: the per-event samples out of the clients' reports, and
// their summary table.
import type { MeshEventReport } from '../../tools/generator/analyzer.js';
import { fixed, summarize, type Summary } from '../lib/stats.js';

export interface EventSample {
  run: number;
  client: string;
  kind: 'migration' | 'failover';
  from: string;
  to: string;
  /** From the migrate order (or the old reflector's silence) to registered at the new one. */
  durationMs: number;
  /** The longest interval with nothing received around the event (null: nothing received). */
  gapMs: number | null;
  /** Datagrams that went missing around the event and never arrived. */
  lost: number;
}

export interface EventSummary {
  kind: 'migration' | 'failover';
  events: number;
  runs: number;
  durationMs: Summary;
  gapMs: Summary;
  lost: Summary;
  /** Events that lost no datagram. */
  lossless: number;
}

export function samplesOf(run: number, clients: readonly { name: string; report: { migrations: MeshEventReport[]; failovers: MeshEventReport[] } }[]): EventSample[] {
  return clients.flatMap((c) =>
    [...c.report.migrations, ...c.report.failovers].map((e) => ({ run, client: c.name, kind: e.kind, from: e.from, to: e.to, durationMs: e.durationMs, gapMs: e.gapMs, lost: e.lost })),
  );
}

export function summarizeEvents(kind: 'migration' | 'failover', samples: readonly EventSample[]): EventSummary {
  const mine = samples.filter((s) => s.kind === kind);
  return {
    kind,
    events: mine.length,
    runs: new Set(mine.map((s) => s.run)).size,
    durationMs: summarize(mine.map((s) => s.durationMs)),
    gapMs: summarize(mine.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]))),
    lost: summarize(mine.map((s) => s.lost)),
    lossless: mine.filter((s) => s.lost === 0).length,
  };
}

export function eventsMarkdown(summaries: readonly EventSummary[], setup: Record<'migration' | 'failover', string>, quick: boolean): string {
  const ms = (s: Summary): string => `${fixed(s.p50)} / ${fixed(s.p90)} / ${fixed(s.max)}`;
  const lines = [
    `## Migration and failover${quick ? ' (quick mode)' : ''}`,
    '',
    `- migration: ${setup.migration}`,
    `- failover: ${setup.failover}`,
    '',
    'Per migrated (or failed-over) client, as its own report shows it: time from the order (or from the old reflector falling silent) to registered at the new reflector; the longest gap in what it received; datagrams lost around the event. p50 / p90 / max (ms) over every event of every run.',
    '',
    '| event | runs | events | time p50 / p90 / max | gap p50 / p90 / max | lost p50 / p90 / max | events without loss |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...summaries.map(
      (s) => `| ${s.kind} | ${s.runs} | ${s.events} | ${ms(s.durationMs)} | ${ms(s.gapMs)} | ${fixed(s.lost.p50, 0)} / ${fixed(s.lost.p90, 0)} / ${fixed(s.lost.max, 0)} | ${s.lossless} of ${s.events} |`,
    ),
    '',
  ];
  return `${lines.join('\n')}\n`;
}
