// The mesh keys a reflector holds at one time (docs/security.md "Rotating the mesh key"): the current
// key, which signs everything the reflector sends (peer datagram tags, peer requests) and mints, and
// during an overlap the accepted keys, which only verify. Rotation is three edits of this set, each
// applied on every reflector before the next: 1) add the new key as accepted, 2) make it current (the
// old one accepted), 3) drop the old one. "open" stands for no key: `current: open` sends unsigned, and
// `accept: open` accepts unsigned peer traffic and joins without a token, which is how an open mesh
// becomes a keyed one with the same three steps.
//
// Text form (a key file, a Secret's value, RMESH_MESH_KEY), one entry a line, # comments:
//   current: <base64 key> | open
//   accept: <base64 key> | open        (zero or more)
// A file holding just one key (base64 text or raw bytes) is `current: <that key>`, as before.
import { createHash } from 'node:crypto';
import { deriveMeshSubkey, meshKeyFromBytes, MeshKeyError, MESH_KEY_HOWTO, parseMeshKeyBase64, readKeyFile, type MeshKeyPurpose } from './mesh-key.js';

/** Keys that verify at one time, current included: the native engine keeps a tag state per key. */
export const MAX_VERIFY_KEYS = 4;

export interface MeshKeySet {
  /** Signs what this reflector sends and verifies first; undefined = sends unsigned (open). */
  current: Buffer | undefined;
  /** Verify-only keys of an overlap, besides current (never equal to it). */
  accepted: readonly Buffer[];
  /** Unsigned peer traffic and joins without a token are accepted: an open mesh, or the way out of one. */
  acceptUnsigned: boolean;
}

/** An open mesh: nothing signed, nothing required. */
export const OPEN_KEY_SET: MeshKeySet = Object.freeze({ current: undefined, accepted: Object.freeze([]), acceptUnsigned: true });

/** The set of one key: signs with it, accepts only it (a keyed mesh outside a rotation). */
export function singleKeySet(key: Buffer): MeshKeySet {
  return { current: key, accepted: [], acceptUnsigned: false };
}

/** Every key that verifies, current first (the one peers use outside a rotation: checked first). */
export function verifyKeys(set: MeshKeySet): Buffer[] {
  return set.current ? [set.current, ...set.accepted] : [...set.accepted];
}

/** The subkeys of one purpose: the one to sign with, and those to verify with (signing one first). */
export interface Subkeys {
  sign: Buffer | undefined;
  verify: Buffer[];
  acceptUnsigned: boolean;
}

export function subkeysOf(set: MeshKeySet, purpose: MeshKeyPurpose): Subkeys {
  return {
    sign: set.current ? deriveMeshSubkey(set.current, purpose) : undefined,
    verify: verifyKeys(set).map((k) => deriveMeshSubkey(k, purpose)),
    acceptUnsigned: set.acceptUnsigned,
  };
}

/**
 * A short public name of a key for logs, status and the operator (16 hex digits of SHA-256 over a
 * subkey derived for the purpose: it tells keys apart and reveals nothing of them); "open" for none.
 */
export function meshKeyId(key: Buffer | undefined): string {
  if (!key) return 'open';
  return createHash('sha256').update(deriveMeshSubkey(key, 'key-id')).digest('hex').slice(0, 16);
}

/** The set by key ids: what a reflector reports and logs. */
export interface MeshKeySetIds {
  current: string;
  accepted: string[];
}

export function meshKeySetIds(set: MeshKeySet): MeshKeySetIds {
  const accepted = set.accepted.map(meshKeyId);
  if (set.acceptUnsigned && set.current) accepted.push('open');
  return { current: meshKeyId(set.current), accepted };
}

/** True when both sets sign with the same key and accept the same keys (in any order). */
export function sameKeySet(a: MeshKeySet, b: MeshKeySet): boolean {
  const ids = (s: MeshKeySet) => {
    const { current, accepted } = meshKeySetIds(s);
    return `${current}|${[...accepted].sort().join(',')}|${s.acceptUnsigned}`;
  };
  return ids(a) === ids(b);
}

const ENTRY = /^\s*(current|accept)\s*:\s*(\S*)\s*$/;

/** True when the text is in the key-set form (some line starts with `current:` or `accept:`). */
export function isKeySetText(text: string): boolean {
  return text.split(/\r?\n/).some((line) => ENTRY.test(line));
}

/** Parses the text form; `source` names where it came from in every error. */
export function parseMeshKeySet(text: string, source: string): MeshKeySet {
  let current: Buffer | 'open' | undefined;
  const accepted: (Buffer | 'open')[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const m = ENTRY.exec(line);
    if (!m) throw new MeshKeyError(`${source} line ${i + 1}: "${line.slice(0, 40)}" is not "current: <base64 key>|open" or "accept: <base64 key>|open"`);
    const value = m[2] === 'open' ? 'open' : parseMeshKeyBase64(m[2]!, `${source} line ${i + 1}`);
    if (m[1] === 'current') {
      if (current !== undefined) throw new MeshKeyError(`${source} line ${i + 1}: a second "current:" entry; one key signs at a time (the others are "accept:")`);
      current = value;
    } else {
      accepted.push(value);
    }
  }
  if (current === undefined) throw new MeshKeyError(`${source} has no "current:" entry (the key this reflector signs with, or "open"); ${MESH_KEY_HOWTO}`);
  return buildKeySet(current, accepted, source);
}

function buildKeySet(current: Buffer | 'open', accepted: (Buffer | 'open')[], source: string): MeshKeySet {
  const keys: Buffer[] = [];
  for (const k of accepted) {
    if (k === 'open') continue;
    if (current !== 'open' && k.equals(current)) continue;
    if (!keys.some((other) => other.equals(k))) keys.push(k);
  }
  const set: MeshKeySet = {
    current: current === 'open' ? undefined : current,
    accepted: keys,
    // A reflector that sends unsigned must accept unsigned: its peers at the same step do the same.
    acceptUnsigned: current === 'open' || accepted.includes('open'),
  };
  if (verifyKeys(set).length > MAX_VERIFY_KEYS) {
    throw new MeshKeyError(`${source} holds ${verifyKeys(set).length} keys; at most ${MAX_VERIFY_KEYS} may verify at one time (finish a rotation before starting the next)`);
  }
  return set;
}

/** The text form of a set (what the operator writes into the key-set Secret). */
export function formatMeshKeySet(set: MeshKeySet): string {
  const lines = [`current: ${set.current ? set.current.toString('base64') : 'open'}`];
  for (const k of set.accepted) lines.push(`accept: ${k.toString('base64')}`);
  if (set.acceptUnsigned && set.current) lines.push('accept: open');
  return `${lines.join('\n')}\n`;
}

/** A key file as a set: the key-set text form, or one key (base64 text or raw bytes). */
export function readMeshKeySetFile(path: string): MeshKeySet {
  const raw = readKeyFile(path);
  const text = raw.toString('utf8');
  if (isKeySetText(text)) return parseMeshKeySet(text, `the mesh key file ${path}`);
  return singleKeySet(meshKeyFromBytes(raw, path));
}

/** The set from a file (preferred when both are given) or RMESH_MESH_KEY's value; undefined when neither is set. */
export function loadMeshKeySet(source: { file?: string | undefined; base64?: string | undefined }): MeshKeySet | undefined {
  if (source.file) return readMeshKeySetFile(source.file);
  const value = source.base64;
  if (value === undefined || value === '') return undefined;
  if (isKeySetText(value)) return parseMeshKeySet(value, 'RMESH_MESH_KEY');
  return singleKeySet(parseMeshKeyBase64(value, 'RMESH_MESH_KEY'));
}

/** The key to mint with from a key file (`rmesh token`): its current key; an open set has none. */
export function currentMeshKeyOfFile(path: string): Buffer {
  const set = readMeshKeySetFile(path);
  if (!set.current) throw new MeshKeyError(`the mesh key file ${path} says "current: open": there is no key to mint tokens with yet`);
  return set.current;
}
