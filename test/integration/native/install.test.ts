// The install-time build of the native addon, run on a copy of reflector/native: when the compiler is
// missing the install still succeeds and says why (the reflector then runs the TypeScript engine); with
// the compiler it produces an addon that loads, from the Node headers on this machine, without a
// download.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tryLoad } from '../../../reflector/native/addon.js';

const source = join(import.meta.dirname, '..', '..', '..', 'reflector', 'native');
const work = mkdtempSync(join(tmpdir(), 'rmesh-native-install-'));
for (const entry of ['install.js', 'binding.gyp', 'src']) cpSync(join(source, entry), join(work, entry), { recursive: true });
const addon = join(work, 'build', 'Release', 'rmesh_mirror.node');

function install(env: Record<string, string>): { status: number | null; log: string } {
  const result = spawnSync(process.execPath, [join(work, 'install.js')], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: result.status, log: `${result.stdout}${result.stderr}` };
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('install.js', () => {
  it('succeeds without building when the C compiler is missing, and says why and what runs instead', () => {
    const { status, log } = install({ CC: '/nonexistent/cc' });
    expect(status).toBe(0);
    expect(log).toMatch(/rmesh native data plane: not built .*the TypeScript data plane will run/s);
    expect(existsSync(addon)).toBe(false);
  });

  it('can be skipped on purpose', () => {
    const { status, log } = install({ RMESH_SKIP_NATIVE_BUILD: '1' });
    expect(status).toBe(0);
    expect(log).toMatch(/skipped \(RMESH_SKIP_NATIVE_BUILD=1\)/);
  });

  it('builds a loadable addon from the local Node headers, offline', () => {
    // A proxy that does not exist: any download attempt would fail the build.
    const { status, log } = install({ https_proxy: 'http://127.0.0.1:9', HTTPS_PROXY: 'http://127.0.0.1:9', npm_config_proxy: 'http://127.0.0.1:9' });
    expect(status).toBe(0);
    expect(log).toMatch(/rmesh native data plane: built in/);
    const load = tryLoad([addon]);
    expect(load.ok ? typeof load.addon.open : load.reason).toBe('function');
  });

  it('does not rebuild an addon newer than its sources (npm install runs before every npm test)', () => {
    const { status, log } = install({});
    expect(status).toBe(0);
    expect(log).toMatch(/up to date/);
    expect(existsSync(addon)).toBe(true);
  });
});
