// The mesh key: one secret shared by every reflector of a mesh (on Kubernetes, the mesh's Secret), from
// which each security mechanism derives its own subkey with HKDF-SHA256 (RFC 5869). A subkey per purpose
// means a value made for one mechanism (a client token, say) can never be passed off as another (a peer
// datagram tag), and the mesh key itself is never used directly.
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Shortest mesh key accepted, in bytes (256 bits: the strength of the HMAC-SHA256 built on it). */
export const MIN_MESH_KEY_BYTES = 32;

/** What every "no key" or "bad key" message tells the user to do. */
export const MESH_KEY_HOWTO =
  'make one with `head -c 32 /dev/urandom | base64` (or `openssl rand -base64 32`) and pass it as RMESH_MESH_KEY, or write it to a file for --mesh-key-file';

/** The purposes a subkey is derived for; each name is bound into the derivation. */
export type MeshKeyPurpose = 'peer-tag' | 'client-token' | 'peer-control' | 'key-id';
export const MESH_KEY_PURPOSES: readonly MeshKeyPurpose[] = ['peer-tag', 'client-token', 'peer-control', 'key-id'];

/** Length of every derived subkey (the SHA-256 block-friendly 32 bytes). */
export const SUBKEY_BYTES = 32;

/** HKDF salt: fixed, names the scheme and its version so a future scheme derives unrelated keys. */
const HKDF_SALT = Buffer.from('rmesh mesh key v1', 'utf8');

export class MeshKeyError extends Error {
  override name = 'MeshKeyError';
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$|^[A-Za-z0-9_-]+={0,2}$/;

/** Decodes a base64 (standard or URL-safe) mesh key; `source` names where it came from for the error. */
export function parseMeshKeyBase64(text: string, source: string): Buffer {
  const compact = text.replace(/\s+/g, '');
  if (compact === '') throw new MeshKeyError(`${source} is empty; ${MESH_KEY_HOWTO}`);
  const key = decodeBase64(compact);
  if (key === undefined) throw new MeshKeyError(`${source} is not base64; ${MESH_KEY_HOWTO}`);
  return checkLength(key, source);
}

/** Standard or URL-safe base64 without white space, decoded; undefined when it is not base64. */
function decodeBase64(compact: string): Buffer | undefined {
  if (compact === '' || !BASE64.test(compact) || compact.replace(/=+$/, '').length % 4 === 1) return undefined;
  return Buffer.from(compact.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/**
 * Reads a key file. A file of base64 text (what `... | base64` writes, or a Secret's value written as
 * text) is decoded; anything else is taken as the raw key bytes (a Secret mounted as a volume holds the
 * decoded bytes).
 */
export function readMeshKeyFile(path: string): Buffer {
  return meshKeyFromBytes(readKeyFile(path), path);
}

/** The bytes of a key file, or a MeshKeyError that says which file could not be read. */
export function readKeyFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new MeshKeyError(`cannot read the mesh key file ${path}: ${(err as Error).message}`);
  }
}

/** A key file's bytes as one key: base64 text decoded, else the raw bytes. */
export function meshKeyFromBytes(raw: Buffer, path: string): Buffer {
  const decoded = decodeBase64(raw.toString('latin1').replace(/\s+/g, ''));
  if (decoded !== undefined && decoded.length >= MIN_MESH_KEY_BYTES) return decoded;
  return checkLength(raw, `the mesh key file ${path}`);
}

/** The key from a file (preferred when both are given) or a base64 value; undefined when neither is set. */
export function loadMeshKey(source: { file?: string | undefined; base64?: string | undefined }): Buffer | undefined {
  if (source.file) return readMeshKeyFile(source.file);
  if (source.base64 !== undefined && source.base64 !== '') return parseMeshKeyBase64(source.base64, 'RMESH_MESH_KEY');
  return undefined;
}

/** HKDF-SHA256(mesh key, salt "rmesh mesh key v1", info "rmesh/<purpose>") -> 32 bytes. */
export function deriveMeshSubkey(key: Buffer, purpose: MeshKeyPurpose, context?: string): Buffer {
  if (key.length < MIN_MESH_KEY_BYTES) throw new MeshKeyError(`the mesh key must be at least ${MIN_MESH_KEY_BYTES} bytes`);
  if (!MESH_KEY_PURPOSES.includes(purpose)) throw new MeshKeyError(`unknown mesh key purpose "${String(purpose)}"`);
  const info = context === undefined ? `rmesh/${purpose}` : `rmesh/${purpose}/${context}`;
  return Buffer.from(hkdfSync('sha256', key, HKDF_SALT, Buffer.from(info, 'utf8'), SUBKEY_BYTES));
}

function checkLength(key: Buffer, source: string): Buffer {
  if (key.length < MIN_MESH_KEY_BYTES) {
    throw new MeshKeyError(`${source} holds ${key.length} bytes; a mesh key needs at least ${MIN_MESH_KEY_BYTES} bytes; ${MESH_KEY_HOWTO}`);
  }
  return key;
}
