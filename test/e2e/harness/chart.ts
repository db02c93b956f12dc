// The values the chart is installed with in e2e: the project's image as the cluster's nodes have it
// (imported into the harness's nodes and never pulled there; loaded into an existing cluster's), and,
// on the harness's nodes, the operator pointed at the API server's own address — there is no
// kube-proxy there, and no test may send to a Service IP.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/** Writes a values file for `image` (NAME:TAG) and returns its path. */
export function chartValuesFile(image: string, pullPolicy: 'Never' | 'IfNotPresent', apiServer?: { host: string; port: number }): string {
  const [repository, tag] = image.split(/:(?=[^:/]+$)/);
  const valuesFile = join(mkdtempSync(join(tmpdir(), 'rmesh-e2e-values-')), 'values.yaml');
  writeFileSync(valuesFile, stringify({
    image: { repository, tag, pullPolicy },
    ...(apiServer ? {
      operator: {
        extraEnv: [
          { name: 'KUBERNETES_SERVICE_HOST', value: apiServer.host },
          { name: 'KUBERNETES_SERVICE_PORT', value: String(apiServer.port) },
        ],
      },
    } : {}),
  }));
  return valuesFile;
}
