// Loads the compiled native mirror (build/Release/rmesh_mirror.node, built at install time by
// install.js) and describes its raw API. Loading never throws: when the addon was not built or does not
// load, the caller gets the reason, and the reflector runs the TypeScript data plane instead.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Offsets in the counters Float64Array; each port index owns `portStride` doubles. */
export interface NativeLayout {
  inClient: number;
  inPeer: number;
  bytesInClient: number;
  bytesInPeer: number;
  outClient: number;
  outPeer: number;
  bytesOutClient: number;
  bytesOutPeer: number;
  dropUnknownSource: number;
  dropMalformed: number;
  dropOversized: number;
  dropRole: number;
  dropSendError: number;
  dropRateLimited: number;
  dropBadPeerTag: number;
  dropReplay: number;
  dropStale: number;
  /** Dropped by the kernel for a full receive buffer (SO_RXQ_OVFL; seen once a later datagram arrives). */
  dropReceiveBuffer: number;
  /** Copies dropped after the send buffer stayed full for the flush's deadline. */
  dropSendBuffer: number;
  controlToJs: number;
  controlDropped: number;
  batches: number;
  sendCalls: number;
  gsoSends: number;
  latencyCount: number;
  latencySum: number;
  /** First of the non-cumulative bucket counts; the one after the last bound is +Inf. */
  latencyBuckets: number;
  maxBuckets: number;
  /** Doubles before the first client slot line. */
  globalDoubles: number;
  slotIn: number;
  slotOut: number;
  slotBytesIn: number;
  slotBytesOut: number;
  /** Monotonic milliseconds (the clock of nowMs()); 0 when never heard. */
  slotLastHeard: number;
  /** Datagrams of the client dropped by its rate limit. */
  slotRateLimited: number;
  /** The hand-over of the line its packet thread last reset it for (setTable's generations). */
  slotGeneration: number;
  slotDoubles: number;
}

export interface NativeOpenOptions {
  address: string;
  dataPort: number;
  rtp: boolean;
  maxDatagramSize: number;
  /** Client slots with their own activity line; clients beyond share one overflow line. */
  slots: number;
  latencyBucketsSeconds: readonly number[];
  socketBufferBytes?: number;
  /** Use UDP GSO where the kernel has it (default true). */
  gso?: boolean;
  /** Data that waited longer in the socket (SO_TIMESTAMPNS to now) is dropped as stale; 0 = never. */
  maxDatagramAgeMs?: number;
  /** Per-client rate limit (per data port): datagrams/s, payload bits/s (0 = off), bucket depth in ms. */
  clientPacketsPerSecond?: number;
  clientBitsPerSecond?: number;
  clientBurstMs?: number;
}

export interface NativeClient {
  id: number;
  sends: boolean;
  receives: boolean;
  deliver: boolean;
  endpoints: readonly ({ address: string; port: number } | undefined)[];
}

export interface NativePeer {
  address: string;
  dataPort: number;
  /** Authenticated mesh: per key that verifies (auth.keyCount, current first), the tag key of each of the peer's data sockets (32 bytes per port index). */
  tagKeys?: readonly (readonly Buffer[])[];
  /** Authenticated mesh: the peer's replay window (< 1024), kept while it stays; a new generation resets it. */
  windowSlot?: number;
  windowGeneration?: number;
}

/**
 * Authenticated mesh: this reflector's tag key of each data socket (32 bytes per port index; absent =
 * copies untagged), how many keys verify (0-4), and whether untagged peer data is accepted.
 */
export interface NativeAuth {
  selfKeys?: readonly Buffer[];
  keyCount: number;
  acceptUnsigned: boolean;
}

declare const handleBrand: unique symbol;
export type NativeHandle = { readonly [handleBrand]: true };

export interface NativeOpened {
  handle: NativeHandle;
  stats: ArrayBuffer;
  /** The bound port of each port index (useful with dataPort 0). */
  ports: number[];
  portStride: number;
  /** UDP GSO is in use. */
  gso: boolean;
}

export type NativeControlCallback = (datagram: Buffer, portIndex: number, address: string, port: number) => void;

export interface NativeMirrorAddon {
  /** Binds the socket(s) and starts one packet thread per socket; throws a bind error with a `code`. */
  open(options: NativeOpenOptions, onControl: NativeControlCallback): NativeOpened;
  /**
   * Replaces the forwarding table; slots[i] is the activity line of clients[i], generations[i] its
   * hand-over to that client: a line whose generation changed is reset by its packet thread.
   */
  setTable(handle: NativeHandle, clients: readonly NativeClient[], slots: Uint32Array, generations: Uint32Array, peers: readonly NativePeer[], auth?: NativeAuth): void;
  /** Sends one datagram from a port index's socket without blocking; false when the socket buffer is full. */
  send(handle: NativeHandle, portIndex: number, datagram: Buffer, address: string, port: number): boolean;
  /** Stops the packet threads and closes the sockets; idempotent. */
  close(handle: NativeHandle): void;
  /** CLOCK_MONOTONIC in milliseconds, the clock of slotLastHeard. */
  nowMs(): number;
  layout: NativeLayout;
}

export type NativeLoad = { ok: true; addon: NativeMirrorAddon; path: string } | { ok: false; reason: string };

const ADDON_FILE = join('build', 'Release', 'rmesh_mirror.node');

/** Where the addon may be: beside this file's source (tests run the .ts), or the source tree of dist/. */
export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, ADDON_FILE), resolve(here, '..', '..', '..', 'reflector', 'native', ADDON_FILE)];
}

let cached: NativeLoad | undefined;

/** Loads the addon once; later calls return the same answer. */
export function loadNativeMirror(): NativeLoad {
  cached ??= tryLoad(addonCandidates());
  return cached;
}

export function tryLoad(candidates: readonly string[]): NativeLoad {
  if (process.platform !== 'linux') return { ok: false, reason: `the native data plane needs Linux (recvmmsg/sendmmsg); this is ${process.platform}` };
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    return {
      ok: false,
      reason: `the native data plane was not built (no ${candidates.join(' or ')}); run \`npm rebuild\` or \`node reflector/native/install.js\` and see its log`,
    };
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeMirrorAddon;
    if (typeof addon.open !== 'function' || typeof addon.layout !== 'object') {
      return { ok: false, reason: `${path} is not the native mirror addon` };
    }
    return { ok: true, addon, path };
  } catch (err) {
    return { ok: false, reason: `cannot load ${path}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
