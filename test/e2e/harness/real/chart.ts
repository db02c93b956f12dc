// How the chart is installed into the real-node cluster: the image built from the Dockerfile (never
// pulled: it was imported into every node), and the operator pointed at the API server's own address —
// there is no kube-proxy, and no test may send to a Service IP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { InstallOptions } from '../mesh.js';
import type { RealCluster } from './cluster.js';

export function realChart(cluster: RealCluster): InstallOptions {
  const [repository, tag] = cluster.images.image.split(/:(?=[^:]+$)/);
  const valuesFile = join(mkdtempSync(join(tmpdir(), 'rmesh-e2e-values-')), 'values.yaml');
  writeFileSync(valuesFile, stringify({
    image: { repository, tag, pullPolicy: 'Never' },
    operator: {
      extraEnv: [
        { name: 'KUBERNETES_SERVICE_HOST', value: cluster.apiServer.host },
        { name: 'KUBERNETES_SERVICE_PORT', value: String(cluster.apiServer.port) },
      ],
    },
  }));
  return { valuesFile };
}
