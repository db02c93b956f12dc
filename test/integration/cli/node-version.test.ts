// A real end-of-life Node (20, installed from the registry by scripts/install-node.sh as any pinned
// release is) meets the project's entry points: `rmesh` and the addon's install script stop with one
// line naming the supported lines, and scripts/with-node.sh moves the command onto the pinned Node.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const OLD_NODE = '20.20.2';
const PINNED = readFileSync(join(ROOT, '.node-version'), 'utf8').trim();
const ONE_LINE_OLD = new RegExp(`^[a-z-]+: Node\\.js v${OLD_NODE.replace(/\./g, '\\.')} is not supported: reflector-mesh runs on Node\\.js 24 or 22\\.13\\+; [^\\n]+\\n$`);

let oldBin: string;

/** Runs a command with `bin` first on PATH, as a user whose `node` is that one. */
function runWith(bin: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
}

beforeAll(() => {
  const installed = spawnSync('bash', [join(ROOT, 'scripts', 'install-node.sh'), OLD_NODE], { cwd: ROOT, encoding: 'utf8' });
  if (installed.status !== 0) throw new Error(`scripts/install-node.sh ${OLD_NODE} failed:\n${installed.stderr}`);
  oldBin = installed.stdout.trim();
  expect(runWith(oldBin, 'node', ['--version']).stdout.trim()).toBe(`v${OLD_NODE}`);
}, 300_000);

describe(`on Node ${OLD_NODE} (end of life)`, () => {
  it('rmesh says in one line that this Node is not supported, and exits 1 before loading anything', () => {
    const result = runWith(oldBin, 'node', [join(ROOT, 'dist', 'cli', 'rmesh.js'), 'reflector', '--help']);
    expect(result.stderr).toMatch(ONE_LINE_OLD);
    expect(result.stderr).toMatch(/^rmesh: /);
    expect(result.stdout).toBe('');
    expect(result.status).toBe(1);
  });

  it("the addon's install script (npm ci's first own step) stops the same way, building nothing", () => {
    // RMESH_SKIP_NATIVE_BUILD: were the check missing, the script would skip the build and exit 0.
    const result = runWith(oldBin, 'node', [join(ROOT, 'reflector', 'native', 'install.js')], { RMESH_SKIP_NATIVE_BUILD: '1' });
    expect(result.stderr).toMatch(ONE_LINE_OLD);
    expect(result.stderr).toContain('scripts/with-node.sh');
    expect(result.status).toBe(1);
  });

  it('scripts/with-node.sh runs the command on the pinned Node instead, saying so in one line, without the old npm settings', () => {
    const result = runWith(oldBin, 'bash', [join(ROOT, 'scripts', 'with-node.sh'), 'node', '-p', 'process.version + " " + (process.env.npm_config_node_gyp ?? "no node-gyp setting")'], {
      npm_config_node_gyp: '/old/npm/node_modules/node-gyp/bin/node-gyp.js',
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(`v${PINNED} no node-gyp setting`);
    expect(result.stderr).toMatch(new RegExp(`^with-node: Node\\.js v${OLD_NODE.replace(/\./g, '\\.')} is not supported: [^\\n]*; running \`node -p [^\\n]*\` on the project's Node\\.js ${PINNED.replace(/\./g, '\\.')} \\(\\.cache/node/${PINNED.replace(/\./g, '\\.')}\\)\\n$`));
  });
});

describe('on a supported Node', () => {
  it('scripts/with-node.sh runs the command on the Node it finds, silently', () => {
    const bin = join(process.execPath, '..');
    const result = runWith(bin, 'bash', [join(ROOT, 'scripts', 'with-node.sh'), 'node', '-p', 'process.version']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(process.version);
    expect(result.stderr).toBe('');
  });
});
