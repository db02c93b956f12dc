// Prometheus as a user runs it outside the cluster: the scrape job of examples/prometheus-scrape-config.yaml
// (the very file users copy), its Kubernetes service discovery pointed at the test's kubeconfig (the one
// field a Prometheus outside the cluster needs added: in a pod it uses its service account), scraping the
// reflector pods on their node addresses (they use the host network). It listens on loopback only.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '../../../support/ports.js';
import { waitFor } from '../cluster.js';
import { ManagedProcess } from '../processes.js';
import { projectRoot } from '../toolchain.js';

/** The scrape configuration users copy. */
export const scrapeConfigFile = join(projectRoot, 'examples/prometheus-scrape-config.yaml');

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  kubernetes_sd_configs?: Record<string, unknown>[];
}

/** examples/prometheus-scrape-config.yaml's jobs, each Kubernetes discovery reading `kubeconfigPath`. */
export function scrapeJobs(kubeconfigPath: string): ScrapeConfig[] {
  const { scrape_configs: jobs } = parse(readFileSync(scrapeConfigFile, 'utf8')) as { scrape_configs: ScrapeConfig[] };
  return jobs.map((job) => ({ ...job, kubernetes_sd_configs: job.kubernetes_sd_configs?.map((sd) => ({ ...sd, kubeconfig_file: kubeconfigPath })) }));
}

export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

export interface RunningPrometheus {
  /** http://127.0.0.1:PORT: what a ScaledObject's serverAddress names. */
  url: string;
  /** The jobs it runs (from the example file). */
  jobs: ScrapeConfig[];
  logFile: string;
  /** An instant query through the HTTP API (/api/v1/query). */
  query(promql: string): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(binary: string, kubeconfigPath: string): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'rmesh-e2e-prometheus-'));
  const jobs = scrapeJobs(kubeconfigPath);
  writeFileSync(join(dir, 'prometheus.yml'), stringify({ scrape_configs: jobs }));
  const port = await freePort('127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(dir, 'prometheus.log');
  const process_ = new ManagedProcess({
    name: 'prometheus',
    command: binary,
    args: [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
    logFile,
  });
  const query = async (promql: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    if (body.status !== 'success') throw new Error(`Prometheus refused ${promql}: ${body.error ?? res.status}`);
    return (body.data?.result ?? []).map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
  };
  try {
    await waitFor(`Prometheus ready at ${url} (log: ${logFile})`, async () => {
      if (!process_.running) throw new Error(`prometheus exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
      return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok;
    }, { timeoutMs: 60_000, intervalMs: 500 });
  } catch (err) {
    await process_.stop(5000);
    throw err;
  }
  return { url, jobs, logFile, query, stop: async () => void (await process_.stop(10_000)) };
}
