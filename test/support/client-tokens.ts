// Client tokens for tests: every test reflector has the fixed TEST_MESH_KEY (reflector-process.ts), so a
// test mints the token its clients present with that key, here, in one place.
import { mintClientTokenWithMeshKey, type MintOptions } from '../../protocol/security/client-token.js';
import { TEST_MESH_KEY } from './reflector-process.js';

/** The raw test mesh key (read when called: reflector-process.ts imports this module too). */
export function testMeshKeyBytes(): Buffer {
  return Buffer.from(TEST_MESH_KEY, 'base64');
}

/** A token signed with the test mesh key (sendrecv, one day, unless the options say otherwise). */
export function testClientToken(options: MintOptions = {}): string {
  return mintClientTokenWithMeshKey(testMeshKeyBytes(), { ttlSeconds: 86_400, ...options });
}

/**
 * The environment that gives a spawned `rmesh client` or `rmesh proxy` a valid token (RMESH_TOKEN);
 * a function, so that a long test run never hands out a token minted long ago.
 */
export function testClientTokenEnv(options: MintOptions = {}): { RMESH_TOKEN: string } {
  return { RMESH_TOKEN: testClientToken(options) };
}
