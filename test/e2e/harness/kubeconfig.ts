// Writes kubeconfig files: the admin's for the local control plane, a node's for its kubelet, and a
// service account's (token) for a process that acts as one.
import { readFileSync, writeFileSync } from 'node:fs';
import { stringify } from 'yaml';

export type KubeconfigUser = { clientCertFile: string; clientKeyFile: string } | { token: string };

export function writeKubeconfig(
  path: string,
  options: { server: string; ca: { file: string } | { data: string }; user: KubeconfigUser; name?: string; namespace?: string },
): void {
  const name = options.name ?? 'rmesh-e2e';
  const user =
    'token' in options.user
      ? { token: options.user.token }
      : {
          'client-certificate-data': readFileSync(options.user.clientCertFile).toString('base64'),
          'client-key-data': readFileSync(options.user.clientKeyFile).toString('base64'),
        };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name,
        cluster: {
          server: options.server,
          'certificate-authority-data': 'data' in options.ca ? options.ca.data : readFileSync(options.ca.file).toString('base64'),
        },
      },
    ],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: name, user: name, ...(options.namespace ? { namespace: options.namespace } : {}) } }],
    'current-context': name,
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}
