// Starts the external metrics API server of `rmesh operator --external-metrics-port`: the serving
// certificate (given files, or self-signed at start), the request-header trust (a CA file, or the
// cluster's extension-apiserver-authentication ConfigMap, re-read every minute so a rotated front-proxy
// CA is taken without a restart), and the listener.
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { loadTrust, type TrustSource } from './front-proxy.js';
import { selfSignedCertificate } from './self-signed.js';
import { startExternalMetricsServer } from './server.js';
import { meshCapacityRows } from './source.js';

export interface ExternalMetricsConfig extends TrustSource {
  host: string;
  port: number;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  /** Namespaces the operator watches; empty: all. */
  namespaces: string[];
}

export const TRUST_RELOAD_MS = 60_000;

function servingTls(config: ExternalMetricsConfig, log: Logger): { cert: string; key: string } {
  if (config.tlsCertFile || config.tlsKeyFile) {
    if (!config.tlsCertFile || !config.tlsKeyFile) throw new Error('give both --external-metrics-tls-cert-file and --external-metrics-tls-key-file, or neither (self-signed)');
    try {
      return { cert: readFileSync(config.tlsCertFile, 'utf8'), key: readFileSync(config.tlsKeyFile, 'utf8') };
    } catch (err) {
      throw new Error(`cannot read the external metrics serving certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  const names = ['localhost', '127.0.0.1', ...(process.env.POD_IP ? [process.env.POD_IP] : [])];
  log.info({ names }, 'external metrics API: serving with a self-signed certificate (APIService insecureSkipTLSVerify, or give --external-metrics-tls-cert-file)');
  return selfSignedCertificate(names);
}

export async function startExternalMetrics(config: ExternalMetricsConfig, kc: KubeConfig, log: Logger): Promise<{ close: () => Promise<void> }> {
  const trust = await loadTrust(config, kc);
  const server = await startExternalMetricsServer({
    host: config.host,
    port: config.port,
    tls: servingTls(config, log),
    trust: () => trust,
    rows: meshCapacityRows(kc),
    namespaces: config.namespaces,
    log,
  });
  let current = JSON.stringify(trust);
  const reload = config.clientCaFile
    ? undefined
    : setInterval(() => {
        loadTrust(config, kc).then((next) => {
          if (JSON.stringify(next) === current) return;
          current = JSON.stringify(next);
          server.setTrust(next);
          log.info({ allowedNames: next.allowedNames }, 'external metrics API: request-header trust reloaded');
        }, (err: Error) => log.warn({ err: err.message }, 'external metrics API: cannot reload the request-header trust; keeping the one in force'));
      }, TRUST_RELOAD_MS);
  reload?.unref();
  log.info({ port: config.port, allowedNames: trust.allowedNames }, 'external metrics API serving');
  return {
    close: async () => {
      if (reload) clearInterval(reload);
      await server.close();
    },
  };
}
