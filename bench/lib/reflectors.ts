// The benchmarks' reflectors: the tests' runner (test/support/reflector-process.ts, over the project's
// one runner tools/reflector-child.ts) with ports asked of the OS, the tests' mesh key and the demo's
// timings (a mesh under load wants keep-alives and timeouts that a busy machine does not trip).
import { meshMemberSpec, startReflector, TEST_MESH_KEY, type MeshSpec, type ReflectorProcess } from '../../test/support/reflector-process.js';

/** The mesh key of every benchmark reflector, for the clients that sign with it. */
export const BENCH_MESH_KEY = TEST_MESH_KEY;

/**
 * The demo's timings (tools/demo/reflectors.ts); the tests' registration deadline is left at the default.
 * The log level stays the default: the runner waits for the "reflector started" line.
 */
const BENCH_TIMINGS = {
  keepaliveInterval: '300ms',
  peerTimeout: '3s',
  clientIdleTimeout: '3s',
  registrationDeadline: undefined,
  migrationGrace: '500ms',
  drainTimeout: '3s',
};

/** A mesh of `size` reflectors at `${addressPrefix}${firstHost + i}` with the benchmarks' settings, for startMesh (test/support/reflector-process.ts). */
export function benchMesh(size: number, addressPrefix: string, firstHost: number): MeshSpec {
  return { size, addressPrefix, firstHost, common: BENCH_TIMINGS };
}

/** Starts member `i` of `mesh` (an index past its size: one more reflector), joining through `join` (HOST:CONTROLPORT). */
export async function startBenchMember(mesh: MeshSpec, i: number, join: string): Promise<ReflectorProcess> {
  return startReflector(await meshMemberSpec(mesh, i, join));
}
