// Writes the generated manifests: the CRD (crds/) and the operator's RBAC (config/rbac/).
// Run with `npm run generate:manifests`; a unit test fails when the committed files are stale.
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crdYaml } from './api/v1alpha1/index.js';
import { rbacYaml } from './rbac.js';

export const CRD_PATH = 'crds/rmesh.io_reflectormeshes.yaml';
export const RBAC_PATH = 'config/rbac/role.yaml';

export function manifests(): Record<string, string> {
  return { [CRD_PATH]: crdYaml(), [RBAC_PATH]: rbacYaml() };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // dist/operator/manifests.js → the repository root is two levels up.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  for (const [path, text] of Object.entries(manifests())) {
    writeFileSync(join(root, path), text);
    process.stdout.write(`wrote ${path}\n`);
  }
}
