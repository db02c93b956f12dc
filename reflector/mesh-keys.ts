// The mesh keys a running reflector holds (protocol/security/mesh-key-set.ts), and how they change
// without a restart: the key file is read again every second and on SIGHUP. A Kubernetes Secret
// volume updates in place by swapping a symlink, so the file is read whole each time (no inotify on a
// path whose target moves) and compared; a file that no longer parses keeps the keys in force and
// says why, so a bad edit never takes a reflector off the mesh.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { MeshKeyError, type MeshKeyPurpose } from '../protocol/security/mesh-key.js';
import { meshKeySetIds, readMeshKeySetFile, sameKeySet, subkeysOf, type MeshKeySet, type Subkeys } from '../protocol/security/mesh-key-set.js';

/** How often the key file is read again. */
export const KEY_FILE_POLL_MS = 1000;

export interface MeshKeysEvents {
  /** A rotation step took effect: every user of the keys applies the new set. */
  changed: [set: MeshKeySet];
}

export class MeshKeys extends EventEmitter<MeshKeysEvents> {
  private keys: MeshKeySet;
  private readonly subkeys = new Map<MeshKeyPurpose, Subkeys>();

  constructor(initial: MeshKeySet) {
    super();
    this.keys = initial;
  }

  get set(): MeshKeySet {
    return this.keys;
  }

  /** The subkeys of one purpose for the set in force (derived once per set). */
  of(purpose: MeshKeyPurpose): Subkeys {
    let s = this.subkeys.get(purpose);
    if (!s) this.subkeys.set(purpose, (s = subkeysOf(this.keys, purpose)));
    return s;
  }

  /** Puts a set in force; false (and nothing emitted) when it is the set already in force. */
  replace(set: MeshKeySet): boolean {
    if (sameKeySet(set, this.keys)) return false;
    this.keys = set;
    this.subkeys.clear();
    this.emit('changed', set);
    return true;
  }
}

/** Reads the key file into `keys` every KEY_FILE_POLL_MS and when asked (SIGHUP). */
export class MeshKeyFileWatch {
  private timer: NodeJS.Timeout | undefined;
  private lastProblem: string | undefined;

  constructor(
    private readonly file: string,
    private readonly keys: MeshKeys,
    private readonly log: Logger,
    private readonly intervalMs = KEY_FILE_POLL_MS,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.reload('poll'), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the file now; returns true when a new set took effect. */
  reload(why: 'poll' | 'signal'): boolean {
    let set: MeshKeySet;
    try {
      set = readMeshKeySetFile(this.file);
    } catch (err) {
      if (!(err instanceof MeshKeyError)) throw err;
      // Said once per problem, not every second: the keys in force stay.
      if (err.message !== this.lastProblem) this.log.error({ file: this.file, problem: err.message }, 'the mesh key file is unusable; keeping the keys in force');
      this.lastProblem = err.message;
      return false;
    }
    this.lastProblem = undefined;
    const before = meshKeySetIds(this.keys.set);
    if (!this.keys.replace(set)) {
      if (why === 'signal') this.log.info({ file: this.file, keys: before }, 'mesh key file read again: no change');
      return false;
    }
    this.log.info({ file: this.file, why, before, keys: meshKeySetIds(set) }, 'mesh keys changed');
    return true;
  }
}
