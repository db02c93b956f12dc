// Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it, so that two
// operators never act at once:
// - Expiry is judged from the LOCAL time at which this candidate last saw the Lease record change, never
//   from the renewTime the holder wrote: clocks of two nodes may differ by more than the lease, and a
//   holder that renews changes the record, which restarts every candidate's count.
// - Every API call is bounded (an AbortSignal on the request, and a race against the same deadline).
// - The leader steps down when it has not renewed within the renew deadline, by a timer of its own that
//   a hung call cannot hold up; renewDeadline < leaseDuration, so it has stopped before anyone else may
//   judge the Lease expired.
// - A leader that stops cleanly releases the Lease so the next one takes over at once.
// Writes are optimistic (resourceVersion): of two candidates racing for a free Lease, one gets a conflict.
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease, type V1LeaseSpec } from '@kubernetes/client-node';
import { backoffDelayMs } from '../protocol/backoff.js';
import { describeError } from './errors.js';
import { bounded, withSignal } from './kube/bounded.js';
import { httpStatusOf } from './kube/kube-api.js';

export interface LeaseApi {
  read(namespace: string, name: string, signal: AbortSignal): Promise<V1Lease | undefined>;
  create(namespace: string, lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
  /** Replaces the Lease; fails with a conflict when its resourceVersion is stale. */
  replace(namespace: string, name: string, lease: V1Lease, signal: AbortSignal): Promise<V1Lease>;
}

export function clientNodeLeaseApi(kubeConfig: KubeConfig): LeaseApi {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  return {
    async read(namespace, name, signal) {
      try {
        return await api.readNamespacedLease({ namespace, name }, withSignal(signal));
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
    create: (namespace, lease, signal) => api.createNamespacedLease({ namespace, body: lease }, withSignal(signal)),
    replace: (namespace, name, lease, signal) => api.replaceNamespacedLease({ namespace, name, body: lease }, withSignal(signal)),
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  /** How long a candidate waits, from the last change it saw, before taking the Lease over. */
  leaseDurationMs: number;
  /** How long the leader keeps acting without a successful renewal; must be less than leaseDurationMs. */
  renewDeadlineMs: number;
  /** Between attempts (acquire) and renewals (leader). */
  retryPeriodMs: number;
  /** Bound of one attempt (a read and a write); default half the renew deadline. */
  callTimeoutMs?: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** The local clock (durations only: never compared with a time another process wrote). */
  now?: () => number;
  random?: () => number;
}

/** The parts of a Lease whose change shows its holder is alive (client-go compares the whole record). */
function recordKey(spec: V1LeaseSpec | undefined): string {
  const time = (t: Date | string | undefined) => (t instanceof Date ? t.toISOString() : (t ?? ''));
  return JSON.stringify([spec?.holderIdentity ?? '', spec?.leaseDurationSeconds ?? 0, time(spec?.acquireTime), time(spec?.renewTime), spec?.leaseTransitions ?? 0]);
}

type Attempt = 'acquired' | 'held' | 'failed';

export function validateLeaderElection(o: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>): void {
  if (!(o.renewDeadlineMs < o.leaseDurationMs)) {
    throw new Error(`the renew deadline (${o.renewDeadlineMs} ms) must be shorter than the lease duration (${o.leaseDurationMs} ms), or a leader could still act after another took over`);
  }
  if (!(o.retryPeriodMs < o.renewDeadlineMs)) {
    throw new Error(`the retry period (${o.retryPeriodMs} ms) must be shorter than the renew deadline (${o.renewDeadlineMs} ms), or the leader could not renew in time`);
  }
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  /** The record last seen, and when (local clock) it was first seen like that. */
  private observedKey = '';
  private observedAtMs = 0;
  private renewedAtMs = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  /** Aborts the attempt in flight when the leader steps down or stops. */
  private inFlight: AbortController | undefined;
  private onLost: (() => void) | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly callTimeoutMs: number;

  constructor(
    private readonly api: LeaseApi,
    private readonly o: LeaderElectionOptions,
  ) {
    validateLeaderElection(o);
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.callTimeoutMs = o.callTimeoutMs ?? Math.max(1, Math.floor(o.renewDeadlineMs / 2));
  }

  /** True while this process holds the Lease and renewed it within the renew deadline. */
  isLeader(): boolean {
    return this.leading && this.now() - this.renewedAtMs < this.o.renewDeadlineMs;
  }

  /** For /healthz: why the leader's hold on the Lease is stale, or undefined (a standby is always fresh). */
  leaseProblem(): string | undefined {
    if (!this.leading) return undefined;
    const age = this.now() - this.renewedAtMs;
    return age >= this.o.renewDeadlineMs ? `the Lease was last renewed ${Math.round(age / 1000)} s ago (renew deadline ${this.o.renewDeadlineMs / 1000} s)` : undefined;
  }

  /** Resolves when this candidate holds the Lease; `onLost` runs if it later loses it. */
  async acquire(onLost: () => void): Promise<void> {
    this.onLost = onLost;
    this.o.log.info({ lease: this.leaseName(), identity: this.o.identity }, 'waiting for leadership');
    let failures = 0;
    while (!this.stopped) {
      const result = await this.attempt(this.callTimeoutMs);
      if (result === 'acquired' && !this.stopped) {
        this.leading = true;
        this.renewed();
        this.o.log.info({ lease: this.leaseName(), identity: this.o.identity }, 'became leader');
        void this.renewLoop();
        return;
      }
      // Held by another: look again every retry period (with client-go's 1.2 jitter factor). The API
      // server failing: back off, up to the lease duration.
      failures = result === 'failed' ? failures + 1 : 0;
      const delay = result === 'failed' ? backoffDelayMs({ initialMs: this.o.retryPeriodMs, maxMs: this.o.leaseDurationMs }, failures - 1, this.random) : this.o.retryPeriodMs * (1 + this.random() * 0.2);
      await this.sleep(delay);
    }
    throw new Error('leader election stopped before leadership was acquired');
  }

  private leaseName(): string {
    return `${this.o.namespace}/${this.o.name}`;
  }

  private renewed(): void {
    this.renewedAtMs = this.now();
    clearTimeout(this.deadlineTimer);
    // Not the renew loop's job: a renew call that hangs must not keep the leader acting.
    this.deadlineTimer = setTimeout(() => this.stepDown('could not renew the Lease before the renew deadline'), this.o.renewDeadlineMs);
  }

  private async renewLoop(): Promise<void> {
    while (this.leading && !this.stopped) {
      await this.sleep(this.o.retryPeriodMs);
      if (!this.leading || this.stopped) return;
      // Never past the renew deadline: the attempt is cut off when the leader would step down anyway.
      const left = this.renewedAtMs + this.o.renewDeadlineMs - this.now();
      const result = await this.attempt(Math.max(1, Math.min(this.callTimeoutMs, left)));
      if (!this.leading || this.stopped) return;
      if (result === 'acquired') this.renewed();
      else if (result === 'held') this.stepDown('another candidate holds the Lease');
    }
  }

  private stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    clearTimeout(this.deadlineTimer);
    this.inFlight?.abort(new Error('stepped down'));
    this.wake?.();
    this.o.log.warn({ lease: this.leaseName(), identity: this.o.identity, lastRenewedMsAgo: this.now() - this.renewedAtMs }, `${why}; stepping down`);
    this.onLost?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.sleepTimer);
        this.wake = undefined;
        resolve();
      };
      this.sleepTimer = setTimeout(this.wake, ms);
    });
  }

  /** Notes the record as seen now (local clock) if it changed since last seen. */
  private observe(lease: V1Lease): void {
    const key = recordKey(lease.spec);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedAtMs = this.now();
    }
  }

  /** One attempt, bounded; true when this candidate holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    return (await this.attempt(this.callTimeoutMs)) === 'acquired';
  }

  private async attempt(timeoutMs: number): Promise<Attempt> {
    const { namespace, name, identity } = this.o;
    const outer = new AbortController();
    this.inFlight = outer;
    try {
      return await bounded(`the Lease ${this.leaseName()}`, timeoutMs, (signal) => this.acquireOrRenew(signal), outer.signal);
    } catch (err) {
      this.o.log.warn({ lease: `${namespace}/${name}`, identity, err: describeError(err) }, 'lease update failed');
      return 'failed';
    } finally {
      if (this.inFlight === outer) this.inFlight = undefined;
    }
  }

  private async acquireOrRenew(signal: AbortSignal): Promise<Attempt> {
    const { namespace, name, identity } = this.o;
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    const stamp = () => new V1MicroTime(this.now());
    const current = await this.api.read(namespace, name, signal);
    if (!current) {
      const created = await this.api.create(
        namespace,
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: stamp(), renewTime: stamp(), leaseTransitions: 0 },
        },
        signal,
      );
      this.observe(created);
      return 'acquired';
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const heldForMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    // Held by another until a full lease duration has passed, on this clock, without a change.
    if (holder && holder !== identity && this.now() < this.observedAtMs + heldForMs) return 'held';
    const takingOver = holder !== identity;
    const next: V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: stamp(),
        ...(takingOver ? { acquireTime: stamp(), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
      },
    };
    this.observe(await this.api.replace(namespace, name, next, signal));
    return 'acquired';
  }

  /** Stops renewing and, when leading, releases the Lease (bounded) so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.deadlineTimer);
    this.inFlight?.abort(new Error('stopping'));
    this.wake?.();
    if (!this.isLeader()) {
      this.leading = false;
      return;
    }
    this.leading = false;
    try {
      await bounded(`releasing the Lease ${this.leaseName()}`, this.callTimeoutMs, async (signal) => {
        const current = await this.api.read(this.o.namespace, this.o.name, signal);
        if (current?.spec?.holderIdentity !== this.o.identity) return;
        await this.api.replace(this.o.namespace, this.o.name, { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(this.now()) } }, signal);
      });
      this.o.log.info({ lease: this.leaseName() }, 'released the Lease');
    } catch (err) {
      this.o.log.warn({ err: describeError(err) }, 'could not release the Lease; it expires by itself');
    }
  }
}
