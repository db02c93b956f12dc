// Client tokens for tests: every test reflector has the fixed TEST_MESH_KEY (declared here, handed to
// each reflector by reflector-process.ts), so a test mints the token its clients present with that key,
// here, in one place.
import { mintClientTokenWithMeshKey, type MintOptions } from '../../protocol/security/client-token.js';

/**
 * The mesh key every test reflector gets unless its spec says otherwise (a reflector without a key or
 * --open-mesh refuses to start). Fixed, so tests can tag peer datagrams or mint tokens with it; base64
 * of the 32 bytes 0x00..0x1f.
 */
export const TEST_MESH_KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('base64');

/** The raw test mesh key. */
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
