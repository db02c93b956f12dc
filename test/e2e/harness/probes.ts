// Readiness and liveness probes as the kubelet runs them: httpGet (a real HTTP GET on the pod's
// address) and tcpSocket, with the probe's delay, period, timeout and thresholds.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { V1Container, V1Probe } from '@kubernetes/client-node';

/** Runs one probe attempt; resolves true on success. */
export function probeOnce(probe: V1Probe, container: V1Container, podIP: string): Promise<boolean> {
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  const port = (p: number | string | object | undefined): number | undefined => {
    if (typeof p === 'number') return p;
    if (typeof p === 'string') {
      if (/^\d+$/.test(p)) return Number(p);
      return container.ports?.find((cp) => cp.name === p)?.containerPort;
    }
    return undefined;
  };
  if (probe.httpGet) {
    const get = probe.httpGet;
    const target = port(get.port);
    if (target === undefined) return Promise.resolve(false);
    const https = (get.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
    return new Promise((resolve) => {
      const headers: Record<string, string> = { 'User-Agent': 'kube-probe/rmesh-e2e' };
      for (const h of get.httpHeaders ?? []) headers[h.name] = h.value;
      const req = (https ? httpsRequest : httpRequest)(
        { host: get.host ?? podIP, port: target, path: get.path ?? '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(code >= 200 && code < 400);
        },
      );
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
      req.end();
    });
  }
  if (probe.tcpSocket) {
    const target = port(probe.tcpSocket.port);
    if (target === undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      const socket = connect({ host: probe.tcpSocket?.host ?? podIP, port: target, timeout: timeoutMs });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('timeout', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(false));
    });
  }
  // exec and grpc probes have no meaning for a simulated container: never succeed, so it shows.
  return Promise.resolve(false);
}

/** Probes periodically and reports each change of the verdict (after the thresholds). */
export class Prober {
  private timer: NodeJS.Timeout | undefined;
  private successes = 0;
  private failures = 0;
  private verdict: boolean | undefined;
  private stopped = false;

  constructor(
    private readonly probe: V1Probe,
    private readonly container: V1Container,
    private readonly podIP: string,
    private readonly onVerdict: (ok: boolean) => void,
    private readonly maxPeriodMs = Number.POSITIVE_INFINITY,
  ) {}

  start(): void {
    this.schedule((this.probe.initialDelaySeconds ?? 0) * 1000);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), delayMs);
  }

  private async run(): Promise<void> {
    const ok = await probeOnce(this.probe, this.container, this.podIP);
    if (this.stopped) return;
    if (ok) {
      this.successes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.successes = 0;
    }
    const next =
      ok && this.successes >= (this.probe.successThreshold ?? 1)
        ? true
        : !ok && this.failures >= (this.probe.failureThreshold ?? 3)
          ? false
          : this.verdict;
    if (next !== undefined && next !== this.verdict) {
      this.verdict = next;
      this.onVerdict(next);
    }
    this.schedule(Math.min((this.probe.periodSeconds ?? 10) * 1000, this.maxPeriodMs));
  }
}
