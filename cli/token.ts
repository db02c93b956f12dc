// `rmesh token`: mints a client token from the mesh key (what a client needs to join a keyed mesh),
// `rmesh token key` makes a new random mesh key for the mesh's Secret, and `rmesh token verify` checks
// a token against a key and prints its claims. docs/security.md "Client tokens" explains the format.
import { randomBytes } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from './errors.js';
import { parseTokenLifetimeSeconds } from './option-parsers.js';
import { deriveMeshSubkey, MESH_KEY_HOWTO, MeshKeyError, parseMeshKeyBase64 } from '../protocol/security/mesh-key.js';
import { currentMeshKeyOfFile } from '../protocol/security/mesh-key-set.js';
import { ClientTokenError, mintClientTokenWithMeshKey, peekClientTokenClaims, verifyClientToken } from '../protocol/security/client-token.js';
import type { Role } from '../protocol/api-schemas.js';


interface KeyFlags {
  keyFile?: string;
  keyEnv?: string;
}

interface MintFlags extends KeyFlags {
  role: Role;
  ttl: number;
  subject?: string;
  mesh?: string;
  jti?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const token = program
    .command('token')
    .summary('mint a client token from the mesh key (token key: a new key; token verify: check one)')
    .description(
      'mint a client token: what a client presents (rmesh client/proxy --token, RMESH_TOKEN) to join a mesh that has a key. ' +
        'The key comes from --key-file or --key-env (default: RMESH_MESH_KEY_FILE, then RMESH_MESH_KEY, as the reflector reads it). ' +
        'Prints the token on stdout.',
    )
    .addOption(new Option('--key-file <path>', 'file holding the mesh key (base64 text or raw bytes), e.g. the mounted Secret'))
    .addOption(new Option('--key-env <var>', 'environment variable holding the base64 mesh key').argParser(parseEnvName))
    .addOption(new Option('--role <role>', 'the most the token allows: sendrecv allows every role; recvonly/sendonly only themselves').choices(['sendrecv', 'recvonly', 'sendonly']).default('sendrecv'))
    .addOption(new Option('--ttl <duration>', 'how long the token is valid (e.g. 30m, 12h, 7d; at most 366 days)').argParser(parseTokenLifetimeSeconds).default(3600, '1h'))
    .addOption(new Option('--subject <name>', 'who the token is for; the session\'s name when the client gives none (1-128 characters)').argParser(text('--subject', 128)))
    .addOption(new Option('--mesh <name>', 'the mesh the token is for (recorded in the token); a reflector run with --mesh-name takes only tokens naming its mesh').argParser(text('--mesh', 253)))
    .addOption(new Option('--jti <id>', 'a token id for your records (default: a random one)').argParser(text('--jti', 128)))
    .addOption(new Option('--json', 'print {"token", "claims"} as JSON instead of the bare token'))
    .action((flags: MintFlags) => {
      mint(flags);
    });

  token
    .command('key')
    .description('print a new random mesh key (32 bytes, base64) for the mesh\'s Secret or RMESH_MESH_KEY')
    .action(() => {
      process.stdout.write(`${randomBytes(32).toString('base64')}\n`);
    });

  token
    .command('verify')
    .description('check a token against the mesh key: prints its claims and exits 0, or says why it is refused and exits 1')
    .argument('<token>', 'the token (rmt1.…)')
    .addOption(new Option('--key-file <path>', 'file holding the mesh key'))
    .addOption(new Option('--key-env <var>', 'environment variable holding the base64 mesh key').argParser(parseEnvName))
    .addOption(new Option('--mesh <name>', 'check the token as a reflector with --mesh-name <name> would (the token must name this mesh)').argParser(text('--mesh', 253)))
    .action((tokenText: string, flags: KeyFlags & { mesh?: string }) => {
      verify(tokenText, flags);
    });
}

function mint(flags: MintFlags): void {
  const key = loadKey(flags);
  const text = mintClientTokenWithMeshKey(key, {
    role: flags.role,
    ttlSeconds: flags.ttl,
    jti: flags.jti ?? randomBytes(9).toString('base64url'),
    ...(flags.subject !== undefined ? { subject: flags.subject } : {}),
    ...(flags.mesh !== undefined ? { mesh: flags.mesh } : {}),
  });
  if (flags.json) process.stdout.write(`${JSON.stringify({ token: text, claims: peekClientTokenClaims(text) }, null, 2)}\n`);
  else process.stdout.write(`${text}\n`);
}

function verify(tokenText: string, flags: KeyFlags & { mesh?: string }): void {
  const key = loadKey(flags);
  try {
    const claims = verifyClientToken(tokenText.trim(), deriveMeshSubkey(key, 'client-token'), flags.mesh !== undefined ? { mesh: flags.mesh } : {});
    process.stdout.write(`${JSON.stringify({ valid: true, claims, expires: new Date(claims.exp * 1000).toISOString() }, null, 2)}\n`);
  } catch (err) {
    if (!(err instanceof ClientTokenError)) throw err;
    process.stdout.write(`${JSON.stringify({ valid: false, reason: err.reason, message: err.message })}\n`);
    process.stderr.write(`rmesh: token refused (${err.reason}): ${err.message}\n`);
    process.exitCode = 1;
  }
}

/** The mesh key from --key-file or --key-env, else the reflector's own sources; bad or missing: exit 2. */
export function loadKey(flags: KeyFlags, env: NodeJS.ProcessEnv = process.env): Buffer {
  if (flags.keyFile !== undefined && flags.keyEnv !== undefined) {
    throw new UsageError('give the mesh key with --key-file or --key-env, not both.');
  }
  try {
    if (flags.keyFile !== undefined) return currentMeshKeyOfFile(flags.keyFile);
    if (flags.keyEnv !== undefined) {
      const value = env[flags.keyEnv];
      if (value === undefined || value.trim() === '') throw new UsageError(`--key-env ${flags.keyEnv}: the variable ${flags.keyEnv} is not set or empty.`);
      return parseMeshKeyBase64(value, flags.keyEnv);
    }
    if (env.RMESH_MESH_KEY_FILE) return currentMeshKeyOfFile(env.RMESH_MESH_KEY_FILE);
    if (env.RMESH_MESH_KEY) return parseMeshKeyBase64(env.RMESH_MESH_KEY, 'RMESH_MESH_KEY');
  } catch (err) {
    if (err instanceof MeshKeyError) throw new UsageError(err.message);
    throw err;
  }
  throw new UsageError(`no mesh key: pass --key-file PATH or --key-env VAR (or set RMESH_MESH_KEY); to make a key, run "rmesh token key" or ${MESH_KEY_HOWTO}.`);
}

function parseEnvName(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new InvalidArgumentError(`"${value}" is not an environment variable name.`);
  return value;
}

function text(flag: string, max: number): (value: string) => string {
  return (value) => {
    if (value.length < 1 || value.length > max) throw new InvalidArgumentError(`${flag} must be 1-${max} characters.`);
    return value;
  };
}
