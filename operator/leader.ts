// Leader election on a coordination.k8s.io Lease, as client-go's leaderelection: a candidate takes the
// Lease when it is free or expired (renewTime + leaseDuration in the past), the leader renews it every
// retry period and steps down if it cannot renew before the renew deadline, and a leader that stops
// cleanly releases the Lease so the next one takes over at once. Writes are optimistic (resourceVersion).
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { httpStatusOf } from './kube/kube-api.js';
import { describeError } from './errors.js';

export interface LeaseApi {
  read(namespace: string, name: string): Promise<V1Lease | undefined>;
  create(namespace: string, lease: V1Lease): Promise<V1Lease>;
  /** Replaces the Lease; fails with a conflict when its resourceVersion is stale. */
  replace(namespace: string, name: string, lease: V1Lease): Promise<V1Lease>;
}

export function clientNodeLeaseApi(kubeConfig: KubeConfig): LeaseApi {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  return {
    async read(namespace, name) {
      try {
        return await api.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw err;
      }
    },
    create: (namespace, lease) => api.createNamespacedLease({ namespace, body: lease }),
    replace: (namespace, name, lease) => api.replaceNamespacedLease({ namespace, name, body: lease }),
  };
}

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  now?: () => number;
}

function timeOf(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'string') return Date.parse(value);
  return Number.NaN;
}


export class LeaderElector {
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private lastRenewMs = 0;
  private observed: V1Lease | undefined;
  private readonly now: () => number;
  private onLost: (() => void) | undefined;

  constructor(
    private readonly api: LeaseApi,
    private readonly o: LeaderElectionOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Resolves when this candidate holds the Lease; `onLost` runs if it later loses it. */
  async acquire(onLost: () => void): Promise<void> {
    this.onLost = onLost;
    this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'waiting for leadership');
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        this.leading = true;
        this.lastRenewMs = this.now();
        this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
        this.scheduleRenew();
        return;
      }
      await new Promise((r) => setTimeout(r, this.o.retryPeriodMs * (1 + Math.random() * 0.2)));
    }
    throw new Error('leader election stopped before leadership was acquired');
  }

  private scheduleRenew(): void {
    this.timer = setTimeout(() => void this.renew(), this.o.retryPeriodMs);
  }

  private async renew(): Promise<void> {
    if (this.stopped || !this.leading) return;
    const ok = await this.tryAcquireOrRenew();
    if (ok) this.lastRenewMs = this.now();
    if (!ok && this.now() - this.lastRenewMs >= this.o.renewDeadlineMs) {
      this.leading = false;
      this.o.log.warn({ lease: `${this.o.namespace}/${this.o.name}` }, 'could not renew the Lease before the renew deadline; stepping down');
      this.onLost?.();
      return;
    }
    this.scheduleRenew();
  }

  /** One attempt; true when this candidate holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.o;
    const now = this.now();
    const durationSeconds = Math.ceil(this.o.leaseDurationMs / 1000);
    try {
      const current = await this.api.read(namespace, name);
      if (!current) {
        this.observed = await this.api.create(namespace, {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: new V1MicroTime(now), renewTime: new V1MicroTime(now), leaseTransitions: 0 },
        });
        return true;
      }
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const renewed = timeOf(spec.renewTime);
      const expired = !holder || !Number.isFinite(renewed) || renewed + (spec.leaseDurationSeconds ?? durationSeconds) * 1000 < now;
      if (holder !== identity && !expired) return false;
      const takingOver = holder !== identity;
      const next: V1Lease = {
        ...current,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds: durationSeconds,
          renewTime: new V1MicroTime(now),
          ...(takingOver ? { acquireTime: new V1MicroTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      };
      this.observed = await this.api.replace(namespace, name, next);
      return true;
    } catch (err) {
      this.o.log.warn({ lease: `${namespace}/${name}`, err: describeError(err) }, 'lease update failed');
      return false;
    }
  }

  /** Stops renewing and, when leading, releases the Lease so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const current = await this.api.read(this.o.namespace, this.o.name);
      if (current?.spec?.holderIdentity !== this.o.identity) return;
      await this.api.replace(this.o.namespace, this.o.name, {
        ...current,
        spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(this.now()) },
      });
      this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}` }, 'released the Lease');
    } catch (err) {
      this.o.log.warn({ err: describeError(err) }, 'could not release the Lease; it expires by itself');
    }
  }
}
