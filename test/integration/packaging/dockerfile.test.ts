// The Dockerfile, without a Docker engine: hadolint lints it, and the checks below hold it to what the
// image promises (multi-stage, `npm ci`, a slim non-root runtime with entrypoint rmesh), and check that
// the build context (.dockerignore) lets in the sources it copies and keeps out local builds and tests.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRange, supportedLines } from '../../../cli/node-support.js';
import { dockerignorePatterns, ignoredBy } from './docker-context.js';
import { provideTools, ROOT, run, type Tools } from './tools.js';

let tools: Tools;

beforeAll(() => {
  tools = provideTools();
}, 1_800_000);

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of each stage, by stage name. */
function stages(): Map<string, Instruction[]> {
  const out = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const instruction of instructions(dockerfile)) {
    if (instruction.keyword === 'FROM') {
      const name = /\sAS\s+(\S+)/i.exec(instruction.args)?.[1] ?? `stage${out.size}`;
      current = [instruction];
      out.set(name, current);
    } else current?.push(instruction);
  }
  return out;
}

describe('Dockerfile', () => {
  it('passes hadolint', () => {
    const result = run(tools.hadolint, ['--no-color', 'Dockerfile']);
    expect(result.stdout + result.stderr, 'hadolint findings').toBe('');
    expect(result.status).toBe(0);
  });

  it('hadolint does find problems (the check can fail)', () => {
    const bad = 'FROM node:latest\nRUN apt-get install curl\nCOPY . .\nENTRYPOINT rmesh\n';
    const result = run(tools.hadolint, ['--no-color', '-'], bad);
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/DL3007|DL3008|DL3025/);
  });

  it('builds in one stage (npm ci, the build, dev dependencies pruned) and runs from a slim one', () => {
    const all = stages();
    expect([...all.keys()]).toEqual(['build', 'runtime']);
    const build = all.get('build') ?? [];
    const runtime = all.get('runtime') ?? [];
    expect(build[0]?.args).toMatch(/^node:\$\{NODE_VERSION\}-\$\{DEBIAN\} AS build$/);
    expect(runtime[0]?.args).toMatch(/^node:\$\{NODE_VERSION\}-\$\{DEBIAN\}-slim AS runtime$/);
    const buildRuns = build.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(buildRuns).toContain('npm ci');
    expect(buildRuns).toContain('npm run build');
    expect(buildRuns).toContain('npm prune --omit=dev');
    // The runtime stage installs nothing: no compilers, no package manager runs.
    const runtimeRuns = runtime.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
    expect(runtimeRuns).not.toMatch(/apt-get|npm /);
  });

  it('runs as a numeric non-root user, entrypoint rmesh, with OCI labels and documented build arguments', () => {
    const runtime = stages().get('runtime') ?? [];
    const user = runtime.filter((i) => i.keyword === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^[1-9][0-9]*(:[0-9]+)?$/); // numeric, so Kubernetes can check runAsNonRoot
    expect(runtime.find((i) => i.keyword === 'ENTRYPOINT')?.args).toBe('["rmesh"]');
    const labels = runtime.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
    for (const label of ['title', 'description', 'licenses', 'version', 'revision', 'created']) {
      expect(labels).toContain(`org.opencontainers.image.${label}=`);
    }
    const args = instructions(dockerfile).filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=')[0] ?? '');
    const header = dockerfile.slice(0, dockerfile.indexOf('\nARG'));
    for (const arg of new Set(args)) expect(header, `build argument ${arg} is not documented`).toMatch(new RegExp(`#\\s+${arg}\\s`));
    // The runtime user must match the chart's pod security context.
    const values = readFileSync(join(ROOT, 'charts', 'reflector-mesh', 'values.yaml'), 'utf8');
    expect(values).toContain(`runAsUser: ${user.split(':')[0]}`);
  });

  it('builds on the Node line the project pins, one package.json supports, from a Debian release with node images', () => {
    const defaults = Object.fromEntries(
      instructions(dockerfile)
        .filter((i) => i.keyword === 'ARG' && i.args.includes('='))
        .map((i) => i.args.split('=') as [string, string]),
    );
    const pinned = readFileSync(join(ROOT, '.node-version'), 'utf8').trim();
    expect(defaults.NODE_VERSION).toBe(pinned.split('.')[0]);
    expect(supportedLines(projectRange()).map((l) => String(l.major))).toContain(defaults.NODE_VERSION);
    expect(['bookworm', 'trixie']).toContain(defaults.DEBIAN);
  });

  it('copies every file the install script imports before `npm ci` runs it', () => {
    const build = stages().get('build') ?? [];
    const ci = build.findIndex((i) => i.keyword === 'RUN' && i.args.includes('npm ci'));
    const copied = build
      .slice(0, ci)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    const installJs = join(ROOT, 'reflector', 'native', 'install.js');
    const imports = [...readFileSync(installJs, 'utf8').matchAll(/^import .* from '(\.{1,2}\/[^']+)';$/gm)].map((m) => relative(ROOT, join(ROOT, 'reflector', 'native', m[1] ?? '')));
    expect(imports).toContain('cli/node-support.js');
    for (const file of [relative(ROOT, installJs), 'package.json', ...imports]) {
      expect(copied.some((source) => file === source || file.startsWith(source.endsWith('/') ? source : `${source}/`)), `${file} is not copied before npm ci`).toBe(true);
    }
  });

  it('copies the native addon from where install.js builds it and addon.ts loads it', () => {
    const addon = readFileSync(join(ROOT, 'reflector', 'native', 'addon.ts'), 'utf8');
    expect(addon).toContain("join('build', 'Release', 'rmesh_mirror.node')");
    expect(dockerfile).toContain('COPY --from=build /app/reflector/native/build/Release/rmesh_mirror.node reflector/native/build/Release/');
    // The entrypoint is the CLI the build emits.
    const tsconfig = readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8');
    expect(tsconfig).toContain('"cli"');
    expect(dockerfile).toContain('ln -s /app/dist/cli/rmesh.js /usr/local/bin/rmesh');
  });
});

describe('.dockerignore', () => {
  const ignored = ignoredBy(dockerignorePatterns());

  it('lets in every source file the build compiles and every file the Dockerfile copies from the context', () => {
    const listed = spawnSync('git', ['ls-files', 'cli', 'reflector', 'operator', 'bench', 'crds'], { cwd: ROOT, encoding: 'utf8' });
    expect(listed.status).toBe(0);
    const sources = listed.stdout.split('\n').filter((f) => f.length > 0 && !f.endsWith('.test.ts'));
    expect(sources.length).toBeGreaterThan(10);
    expect(sources.filter(ignored)).toEqual([]);
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'reflector/native/binding.gyp', 'reflector/native/install.js']) {
      expect(ignored(file), file).toBe(false);
    }
  });

  it('keeps out local builds, caches, tests and git', () => {
    for (const path of ['node_modules/yaml/package.json', 'dist/cli/rmesh.js', '.cache/k8s/bin/helm', '.git/HEAD', 'test/unit/x.test.ts', 'reflector/native/build/Release/rmesh_mirror.node', 'protocol/wire/client-id.test.ts', 'charts/reflector-mesh/values.yaml']) {
      expect(ignored(path), path).toBe(true);
    }
  });
});
