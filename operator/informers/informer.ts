// A list-and-watch cache of Kubernetes objects that survives the API server: it re-lists on 410 Gone,
// restarts a watch that ends or goes silent for too long, backs off on errors, and replays every
// object on a periodic resync so the controller corrects drift it was never told about. client-node's
// own ListWatch stops for good on the first error; this one never stops until told to.
import type { KubernetesObject } from '@kubernetes/client-node';
import { describeError } from '../errors.js';
import { backoffDelayMs } from '../../protocol/backoff.js';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

/** One watch request; `abort` ends it and must release its connection. */
export interface WatchHandle {
  abort(): void;
}

/** A watch event as the API server sends it. */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T | { code?: number; message?: string; metadata?: { resourceVersion?: string } };
}

/** Where the informer gets its objects: a list call and a watch call from a resource version. */
export interface ListWatchSource<T> {
  /** A short name for logs ("pods", "reflectormeshes"). */
  readonly name: string;
  list(): Promise<ListResult<T>>;
  /** Starts a watch; `onDone` is called once when it ends (null: closed by the server). */
  watch(resourceVersion: string, onEvent: (event: WatchEvent<T>) => void, onDone: (err: unknown) => void): Promise<WatchHandle>;
}

export type ChangeType = 'add' | 'update' | 'delete' | 'resync';

export interface InformerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface InformerOptions {
  /** Replay every cached object this often (0: never). */
  resyncMs: number;
  /** A watch with no event (bookmarks count) for this long is restarted. */
  silenceMs: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  logger?: InformerLogger;
  /** Called on every list, watch start and failure, for metrics. */
  onTransition?: (what: 'list' | 'watch' | 'relist-gone' | 'silent' | 'error') => void;
}

const noLog: InformerLogger = { info() {}, warn() {}, debug() {} };

/** Resource versions remembered per object: more than can change between a write's answer and recordWrite. */
const DELIVERED_KEPT = 8;

export function objectKey(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

function isGone(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: number } | null;
  return e?.statusCode === 410 || e?.code === 410;
}


export class Informer<T extends KubernetesObject> {
  private readonly store = new Map<string, T>();
  private readonly handlers: ((type: ChangeType, obj: T) => void)[] = [];
  private resourceVersion = '';
  /** Key → the last few resource versions the watch delivered for it (recordWrite's "already seen"). */
  private readonly delivered = new Map<string, string[]>();
  /** Key → the resource version of a recorded write whose watch event has not arrived yet. */
  private readonly awaited = new Map<string, string>();
  private synced = false;
  private stopped = true;
  private handle: WatchHandle | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private readonly log: InformerLogger;

  constructor(
    private readonly source: ListWatchSource<T>,
    private readonly options: InformerOptions,
  ) {
    this.log = options.logger ?? noLog;
  }

  onChange(handler: (type: ChangeType, obj: T) => void): void {
    this.handlers.push(handler);
  }

  /** Whether the first list has completed (the cache is usable). */
  hasSynced(): boolean {
    return this.synced;
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  /**
   * Records an object the controller just wrote, so the next reconcile sees it before the watch does.
   * Resource versions are opaque (never compared for order): a watch delivers one object's changes
   * in order, so until the event of this write arrives, events for the object are older than it and
   * the written object is kept; if the watch already delivered it, the cache is at it or past it.
   */
  recordWrite(obj: T): void {
    const key = objectKey(obj);
    const rv = obj.metadata?.resourceVersion;
    if (rv !== undefined && this.delivered.get(key)?.includes(rv)) return;
    this.store.set(key, obj);
    if (rv !== undefined) this.awaited.set(key, rv);
  }

  /** Records a deletion the controller just made (the watch confirms it later). */
  recordDelete(key: string): void {
    this.store.delete(key);
    this.awaited.delete(key);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
    if (this.options.resyncMs > 0) {
      this.resyncTimer = setInterval(() => this.resync(), this.options.resyncMs);
      this.resyncTimer.unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.resyncTimer);
    this.handle?.abort();
    this.wake?.();
    await this.loop;
  }

  private emit(type: ChangeType, obj: T): void {
    for (const handler of this.handlers) {
      try {
        handler(type, obj);
      } catch (err) {
        this.log.warn({ err: describeError(err), informer: this.source.name }, 'informer handler threw');
      }
    }
  }

  private resync(): void {
    for (const obj of this.store.values()) this.emit('resync', obj);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private backoffMs(): number {
    return backoffDelayMs({ initialMs: this.options.backoffInitialMs ?? 500, maxMs: this.options.backoffMaxMs ?? 30_000 }, this.failures);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        const ended = await this.watchOnce();
        if (ended === 'gone') {
          this.options.onTransition?.('relist-gone');
          this.log.info({ informer: this.source.name }, 'resource version too old (410 Gone); listing again');
          this.resourceVersion = '';
        } else if (ended === 'silent') {
          this.options.onTransition?.('silent');
          this.log.warn({ informer: this.source.name, silenceMs: this.options.silenceMs }, 'watch went silent; restarting it');
        }
        if (ended !== 'error') this.failures = 0;
        else await this.sleep(this.backoffMs());
      } catch (err) {
        this.failures++;
        this.options.onTransition?.('error');
        const delay = this.backoffMs();
        this.log.warn({ informer: this.source.name, err: describeError(err), retryInMs: Math.round(delay) }, 'list failed; retrying');
        await this.sleep(delay);
      }
    }
  }

  private async relist(): Promise<void> {
    const result = await this.source.list();
    this.options.onTransition?.('list');
    const fresh = new Map(result.items.map((obj) => [objectKey(obj), obj]));
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit('delete', old);
      }
    }
    for (const key of this.delivered.keys()) if (!fresh.has(key)) this.delivered.delete(key);
    for (const [key, obj] of fresh) this.apply(key, obj, true);
    this.resourceVersion = result.resourceVersion;
    this.synced = true;
  }

  /** Notes a resource version the watch delivered for `key`, and whether a recorded newer write hides it. */
  private hiddenByWrite(key: string, rv: string | undefined): boolean {
    if (rv === undefined) return false;
    const seen = this.delivered.get(key) ?? [];
    seen.push(rv);
    if (seen.length > DELIVERED_KEPT) seen.shift();
    this.delivered.set(key, seen);
    const awaited = this.awaited.get(key);
    if (awaited === undefined) return false;
    if (awaited === rv) this.awaited.delete(key);
    return awaited !== rv;
  }

  private apply(key: string, obj: T, fromList = false): void {
    if (fromList) this.awaited.delete(key); // a list is the server's state: no write is awaited past it
    if (this.hiddenByWrite(key, obj.metadata?.resourceVersion)) return;
    const before = this.store.get(key);
    this.store.set(key, obj);
    if (!before) this.emit('add', obj);
    else if (before.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit('update', obj);
  }

  /** Runs one watch until it ends; says how. */
  private watchOnce(): Promise<'closed' | 'gone' | 'silent' | 'error'> {
    return new Promise((resolve) => {
      let settled = false;
      let silenceTimer: NodeJS.Timeout | undefined;
      const finish = (how: 'closed' | 'gone' | 'silent' | 'error') => {
        if (settled) return;
        settled = true;
        clearTimeout(silenceTimer);
        this.handle?.abort();
        this.handle = undefined;
        this.wake = undefined;
        resolve(how);
      };
      const armSilence = () => {
        clearTimeout(silenceTimer);
        silenceTimer = setTimeout(() => finish('silent'), this.options.silenceMs);
        silenceTimer.unref();
      };
      this.wake = () => finish('closed');
      armSilence();
      this.options.onTransition?.('watch');
      const onEvent = (event: WatchEvent<T>) => {
        if (settled) return;
        armSilence();
        const rv = event.object.metadata?.resourceVersion;
        switch (event.type) {
          case 'ERROR': {
            const status = event.object as { code?: number; message?: string };
            if (status.code === 410) finish('gone');
            else {
              this.failures++;
              this.log.warn({ informer: this.source.name, status }, 'watch error event');
              finish('error');
            }
            return;
          }
          case 'ADDED':
          case 'MODIFIED':
            this.apply(objectKey(event.object), event.object as T);
            break;
          case 'DELETED': {
            const key = objectKey(event.object);
            const had = this.store.get(key);
            this.store.delete(key);
            this.delivered.delete(key);
            this.awaited.delete(key);
            this.emit('delete', had ?? (event.object as T));
            break;
          }
          case 'BOOKMARK':
            break;
        }
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (err: unknown) => {
        if (err === null || err === undefined || this.stopped) finish('closed');
        else if (isGone(err)) finish('gone');
        else {
          if (!settled) {
            this.failures++;
            this.options.onTransition?.('error');
            this.log.warn({ informer: this.source.name, err: describeError(err) }, 'watch failed');
          }
          finish('error');
        }
      };
      this.source.watch(this.resourceVersion, onEvent, onDone).then(
        (handle) => {
          if (settled) handle.abort();
          else this.handle = handle;
        },
        (err: unknown) => onDone(err ?? new Error('watch failed')),
      );
    });
  }
}
