// Runs many traffic-generator clients as a few processes (client-group.ts), each with many clients:
// a process per client would cost more CPU than the mesh under test on this 2-CPU machine, one process
// for all would make the clients' event loop the bottleneck.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Role } from '../../client/mesh-client.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mintClientToken } from '../../protocol/security/client-token.js';
import { deriveMeshSubkey } from '../../protocol/security/mesh-key.js';
import type { Counters, GroupClientResult, GroupConfig, GroupOutput } from './client-group.js';

/** A client token for `subject`, valid for an hour: the benchmark holds the mesh key, as the demo does. */
export function clientToken(meshKey: string, subject: string): string {
  return mintClientToken(deriveMeshSubkey(Buffer.from(meshKey, 'base64'), 'client-token'), { subject, ttlSeconds: 3600 });
}

const GROUP = join(dirname(fileURLToPath(import.meta.url)), 'client-group.js');

export interface ClientsRun {
  join: string[];
  /** The mesh key of the reflectors (RMESH_MESH_KEY, base64): each client gets a token minted from it. */
  meshKey?: string;
  /** One address per client. */
  addresses: string[];
  /** Roles, one per client (default: every client sends and receives). */
  roles?: Role[];
  /** Date.now() ms of the first join, common to all groups (default: each group's own start). */
  epochMs?: number;
  /** ms between two clients' joins (across all groups). */
  staggerMs: number;
  /** Each client's join time, ms after the start, instead of i · staggerMs. */
  joinAtMs?: number[];
  /** From the last join to the window's start. */
  warmupMs: number;
  windowMs: number;
  bitrateBps: number;
  packetSize: number;
  groups: number;
  failoverTimeoutMs?: number;
}

export interface ClientsTiming {
  /** Window start and end, ms after the clients were launched. */
  windowMs: [number, number];
  endAtMs: number;
}

/** When client i joins, ms after the start. */
const joinAt = (run: Pick<ClientsRun, 'staggerMs' | 'joinAtMs'>, i: number): number => run.joinAtMs?.[i] ?? i * run.staggerMs;

export function timing(run: Pick<ClientsRun, 'addresses' | 'staggerMs' | 'joinAtMs' | 'warmupMs' | 'windowMs'>): ClientsTiming {
  const lastJoin = Math.max(0, ...run.addresses.map((_, i) => joinAt(run, i)));
  const start = lastJoin + run.warmupMs;
  return { windowMs: [start, start + run.windowMs], endAtMs: start + run.windowMs + 200 };
}

/** Client i goes to group i % groups, so every group's clients are spread over the whole run. */
export function groupConfigs(run: ClientsRun): GroupConfig[] {
  const t = timing(run);
  const groups = Math.max(1, Math.min(run.groups, run.addresses.length));
  return Array.from({ length: groups }, (_, g) => {
    const indices = run.addresses.map((_, i) => i).filter((i) => i % groups === g);
    return {
      join: run.join,
      first: indices.map((i) => i % run.join.length),
      addresses: indices.map((i) => run.addresses[i]!),
      names: indices.map((i) => `client-${i + 1}`),
      ...(run.roles !== undefined ? { roles: indices.map((i) => run.roles![i] ?? 'sendrecv') } : {}),
      ...(run.meshKey !== undefined ? { tokens: indices.map((i) => clientToken(run.meshKey!, `client-${i + 1}`)) } : {}),
      startAtMs: indices.map((i) => joinAt(run, i)),
      ...(run.epochMs !== undefined ? { epochMs: run.epochMs } : {}),
      endAtMs: t.endAtMs,
      windowMs: t.windowMs,
      bitrateBps: run.bitrateBps,
      packetSize: run.packetSize,
      ...(run.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: run.failoverTimeoutMs } : {}),
    };
  });
}

/** Starts one group's process (node and its arguments); by default here, a benchmark may start it elsewhere. */
export type GroupLauncher = (command: string, args: string[], group: number) => ChildProcess;

const launchHere: GroupLauncher = (command, args) => spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });

/**
 * Starts the groups, resolves to every client's result (sorted by name) once all have printed.
 * Aborting `signal` ends the clients early (before the configured end).
 */
export async function runClients(run: ClientsRun, signal?: AbortSignal, launch: GroupLauncher = launchHere): Promise<GroupClientResult[]> {
  const outputs = await Promise.all(groupConfigs(run).map((config, g) => runGroup(launch(process.execPath, [GROUP, JSON.stringify(config)], g), signal)));
  const errors = outputs.flatMap((o) => ('error' in o ? [o.error] : []));
  if (errors.length) throw new Error(`a client failed: ${errors[0]}`);
  return outputs.flatMap((o) => ('clients' in o ? o.clients : [])).sort((a, b) => Number(a.name.split('-')[1]) - Number(b.name.split('-')[1]));
}

function runGroup(child: ChildProcess, signal?: AbortSignal): Promise<GroupOutput> {
  return new Promise((resolve) => {
    if (!child.stdin || !child.stdout || !child.stderr) throw new Error('a client group needs piped stdio');
    child.stdin.on('error', () => undefined); // the group may have ended already
    const stop = (): void => void child.stdin!.write('stop\n');
    signal?.addEventListener('abort', stop, { once: true });
    child.once('exit', () => signal?.removeEventListener('abort', stop));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as GroupOutput);
      } catch {
        resolve({ error: `client group exited with ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}` });
      }
    });
  });
}

/** Lost and expected datagrams summed over the clients in the measuring window. */
export interface WindowLoss {
  expected: number;
  lost: number;
  /** Datagrams the senders' pacers gave up on: load that was never offered. */
  behindSchedule: number;
  /** lost / expected (1 when nothing was expected: a run that carried nothing did not pass). */
  loss: number;
  /** behindSchedule / what the senders should have sent in the window. */
  shortfall: number;
}

/**
 * Loss in the measuring window, summed over the clients, and the senders' shortfall: a client process
 * that falls behind its schedule offers less than the nominal load, so a low loss alone would flatter.
 */
export function windowLoss(clients: readonly { windowStart: Counters | null; windowEnd: Counters | null }[], scheduledPerClient: number): WindowLoss {
  let expected = 0;
  let lost = 0;
  let behindSchedule = 0;
  for (const c of clients) {
    const start = c.windowStart ?? { expected: 0, lost: 0, behindSchedule: 0 };
    const end = c.windowEnd ?? start;
    expected += Math.max(0, end.expected - start.expected);
    lost += Math.max(0, end.lost - start.lost);
    behindSchedule += Math.max(0, end.behindSchedule - start.behindSchedule);
  }
  const scheduled = scheduledPerClient * clients.length;
  return { expected, lost, behindSchedule, loss: expected > 0 ? lost / expected : 1, shortfall: scheduled > 0 ? Math.min(1, behindSchedule / scheduled) : 0 };
}
