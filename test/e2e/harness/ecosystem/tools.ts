// Where the autoscaling ecosystem's binaries are (Prometheus, KEDA's operator and metrics API server),
// built from their Go modules by test/e2e/toolchain/build.sh beside the rest of the toolchain, and where
// KEDA's own manifests are: its module in the Go module cache (config/crd, config/metrics-server).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pinnedVersion, runBuildScript, toolchainBinDir } from '../toolchain.js';

/** The one command that builds them (not part of the default toolchain: see docs/testing.md). */
export const ecosystemCommand = 'bash test/e2e/toolchain/build.sh prometheus keda-operator keda-adapter';

export interface EcosystemTools {
  prometheus: string;
  kedaOperator: string;
  kedaAdapter: string;
}

export function ecosystemTools(): EcosystemTools {
  const bin = toolchainBinDir();
  return { prometheus: join(bin, 'prometheus'), kedaOperator: join(bin, 'keda-operator'), kedaAdapter: join(bin, 'keda-adapter') };
}

/** The names of the binaries that are not there. */
export function missingEcosystemTools(): string[] {
  const { prometheus, kedaOperator, kedaAdapter } = ecosystemTools();
  return [prometheus, kedaOperator, kedaAdapter].filter((path) => !existsSync(path)).map((path) => basename(path));
}

/**
 * Builds what is missing (build.sh also checks the cached binaries' versions, in seconds); with
 * RMESH_E2E_BUILD=0 it refuses and names the command. A cold build takes long: docs/testing.md.
 */
export async function ensureEcosystemTools(): Promise<EcosystemTools> {
  const missing = missingEcosystemTools();
  if (missing.length > 0 && process.env.RMESH_E2E_BUILD === '0') {
    throw new Error(`the ecosystem scenario needs ${missing.join(', ')} in ${toolchainBinDir()}: run \`${ecosystemCommand}\` (long cold: docs/testing.md)`);
  }
  if (missing.length > 0) console.log(`[ecosystem] ${missing.join(', ')} missing: building them now (\`${ecosystemCommand}\`)`);
  await runBuildScript(['prometheus', 'keda-operator', 'keda-adapter'], 'Prometheus and KEDA', ecosystemCommand);
  const still = missingEcosystemTools();
  if (still.length > 0) throw new Error(`build.sh finished but ${still.join(', ')} missing in ${toolchainBinDir()}`);
  return ecosystemTools();
}

/** KEDA's module directory in the Go module cache (`go mod download` of the pinned version: cached after the build). */
export function kedaModuleDir(): string {
  const version = pinnedVersion('KEDA_VERSION');
  try {
    const out = execFileSync('go', ['mod', 'download', '-json', `github.com/kedacore/keda/v2@${version}`], {
      encoding: 'utf8', cwd: '/', env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const dir = (JSON.parse(out) as { Dir?: string }).Dir;
    if (!dir || !existsSync(join(dir, 'config/crd'))) throw new Error(`go mod download gave no directory with config/crd: ${out}`);
    return dir;
  } catch (err) {
    throw new Error(`KEDA ${version}'s module (its CRDs) is not in the Go module cache: run \`${ecosystemCommand}\` (${(err as Error).message})`, { cause: err });
  }
}
