// `rmesh operator` as users run it: the generated manifests it prints, and clear usage errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../../support/reflector-process.js';

describe('rmesh operator', () => {
  it('prints the committed CRD and RBAC', async () => {
    const crd = await runCli(['operator', '--print-crd']);
    expect(crd.code).toBe(0);
    expect(crd.stdout).toBe(readFileSync(join(REPO_ROOT, 'crds/rmesh.io_reflectormeshes.yaml'), 'utf8'));
    const rbac = await runCli(['operator', '--print-rbac']);
    expect(rbac.stdout).toBe(readFileSync(join(REPO_ROOT, 'config/rbac/role.yaml'), 'utf8'));
  });

  it.each([
    [['--namespace', 'Not_A_Namespace'], /"Not_A_Namespace" is not a namespace name/],
    [['--renew-deadline', '20s'], /--renew-deadline must be shorter than --lease-duration/],
    [['--port', '0'], /not a port number/],
    [['--resync-period', 'soon'], /not a duration/],
  ])('rejects %j with exit code 2', async (args, message) => {
    const r = await runCli(['operator', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('says how to configure a cluster when there is none', async () => {
    const r = await runCli(['operator', '--kubeconfig', '/nonexistent/kubeconfig']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read the kubeconfig /nonexistent/kubeconfig');
  });
});
