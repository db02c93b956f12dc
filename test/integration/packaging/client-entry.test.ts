// The client SDK as a published entry point (package.json "exports": "reflector-mesh/client"): it
// resolves by the package's name to the built SDK, carries type declarations, and neither its code nor
// its declarations reach into the daemon (reflector/, operator/). Needs the build (`npm run build`).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

describe('reflector-mesh/client', () => {
  it('resolves by the package name to the built SDK, with MeshClient and the error catalogue', () => {
    const script = "const sdk = await import('reflector-mesh/client'); console.log(JSON.stringify({ resolved: import.meta.resolve('reflector-mesh/client'), client: typeof sdk.MeshClient, closed: sdk.ERROR_CODES.CLOSED, roles: sdk.ROLES }));";
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout) as { resolved: string; client: string; closed: string; roles: string[] };
    expect(out.resolved.endsWith('/dist/client/index.js')).toBe(true);
    expect(out).toMatchObject({ client: 'function', closed: 'RMESH_CLOSED', roles: ['sendrecv', 'recvonly', 'sendonly'] });
  });

  it('has declarations, and they and the code import only client/ and protocol/', () => {
    expect(readFileSync(join(ROOT, 'dist/client/index.d.ts'), 'utf8')).toMatch(/MeshClient/);
    for (const dir of ['dist/client', 'dist/protocol']) {
      for (const file of readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(js|d\.ts)$/.test(f))) {
        const text = readFileSync(join(ROOT, dir, file), 'utf8');
        expect(text, `${dir}/${file}`).not.toMatch(/from '(\.\.\/)+(reflector|operator|cli|tools|model)\//);
      }
    }
    expect(existsSync(join(ROOT, 'dist/client/mesh-client.d.ts'))).toBe(true);
  });
});
