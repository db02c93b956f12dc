// Reading the reports of a scenario's real clients: whether everyone still hears everyone after the
// mesh moved them, what each source lost, and a readable line per migration and failover (its gap and
// loss), which the scenarios print so a run's numbers are on record.
import { expect } from 'vitest';
import type { ClientReport, MeshEventReport } from './mesh.js';

const label = (r: ClientReport): string => r.name ?? r.sender.ssrc;

/** The source `sender` as `receiver` saw it, if it saw it at all. */
export function sourceOf(receiver: ClientReport, sender: ClientReport): ClientReport['received']['sources'][number] | undefined {
  return receiver.received.sources.find((s) => s.ssrc === sender.sender.ssrc);
}

/**
 * Every client received every other client, and still did after the mesh moved either of them:
 * - the latest datagram a receiver had from a sender carried the sender's final client id, so it was
 *   sent after the sender's last failover (a failover registers a new client id);
 * - the receiver heard the sender after its own last migration or failover had completed.
 */
export function expectEveryoneHearsEveryone(reports: ClientReport[]): void {
  for (const receiver of reports) {
    const events = [...receiver.migrations, ...receiver.failovers];
    const settledMs = Math.max(0, ...events.map((e) => e.atMs + e.durationMs));
    for (const sender of reports) {
      if (sender === receiver) continue;
      const what = `${label(receiver)} receiving ${label(sender)}`;
      const source = sourceOf(receiver, sender);
      expect(source, `${what}: never heard`).toBeDefined();
      expect(sender.clientId, `${label(sender)} ended registered`).not.toBeNull();
      expect(parseInt(source?.clientId ?? '', 16), `${what}: its last datagram was sent under its final client id`).toBe(
        parseInt(sender.clientId ?? '', 16),
      );
      expect(source?.lastMs ?? 0, `${what}: heard after ${label(receiver)}'s last move (at ${settledMs} ms)`).toBeGreaterThan(settledMs);
    }
  }
}

function describeEvent(client: ClientReport, e: MeshEventReport): string {
  const gap = e.gapMs === null ? 'no datagram since' : `gap ${e.gapMs.toFixed(0)} ms`;
  return `${label(client)}: ${e.kind} ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''} at ${(e.atMs / 1000).toFixed(1)} s, took ${e.durationMs.toFixed(0)} ms, ${gap}, lost ${e.lost}`;
}

/** One line per migration and failover of every client, and one per client with its totals. */
export function describeMoves(reports: ClientReport[]): string {
  const lines: string[] = [];
  for (const r of reports) {
    for (const e of [...r.migrations, ...r.failovers].sort((a, b) => a.atMs - b.atMs)) lines.push(describeEvent(r, e));
  }
  for (const r of reports) {
    lines.push(
      `${label(r)}: sent ${r.sent}, received ${r.received.total} from ${r.received.sources.length} sources, lost ${r.received.lost}, ` +
        `dropped while failing over ${r.sender.droppedDuringFailover}, ended at ${r.reflector ?? '-'}`,
    );
  }
  return lines.join('\n');
}

/** The longest gap of each kind of event, for a scenario's summary line. */
export function longestGapMs(reports: ClientReport[], kind: MeshEventReport['kind']): number | undefined {
  const gaps = reports.flatMap((r) => (kind === 'migration' ? r.migrations : r.failovers)).map((e) => e.gapMs ?? Infinity);
  return gaps.length > 0 ? Math.max(...gaps) : undefined;
}
