// The mesh key set (protocol/security/mesh-key-set.ts) and what reads it: the text form and its
// errors, key files old and new, the live set and its file watch, and each mechanism that verifies
// with the set (client tokens, peer requests) through the three steps of a rotation and the way out
// of an open mesh.
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { MeshKeyFileWatch, MeshKeys } from '../../../reflector/mesh-keys.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { JoinAuthorizer } from '../../../reflector/security/join-authorization.js';
import { MeshKeyError } from '../../../protocol/security/mesh-key.js';
import {
  currentMeshKeyOfFile,
  formatMeshKeySet,
  loadMeshKeySet,
  MAX_VERIFY_KEYS,
  meshKeyId,
  meshKeySetIds,
  OPEN_KEY_SET,
  parseMeshKeySet,
  readMeshKeySetFile,
  sameKeySet,
  singleKeySet,
  verifyKeys,
} from '../../../protocol/security/mesh-key-set.js';
import { peerControlKey, PeerRequestVerifier, sha256, signPeerRequest } from '../../../protocol/security/peer-control.js';

const A = Buffer.alloc(32, 0xa1);
const B = Buffer.alloc(32, 0xb2);
const C = Buffer.alloc(32, 0xc3);
const b64 = (k: Buffer) => k.toString('base64');

describe('the key-set text form', () => {
  const cases: { name: string; text: string; current: Buffer | undefined; accepted: Buffer[]; acceptUnsigned: boolean }[] = [
    { name: 'one key', text: `current: ${b64(A)}`, current: A, accepted: [], acceptUnsigned: false },
    { name: 'step 1: the new key accepted', text: `current: ${b64(A)}\naccept: ${b64(B)}`, current: A, accepted: [B], acceptUnsigned: false },
    { name: 'step 2: signing with the new key', text: `# rotation\naccept: ${b64(A)}\ncurrent: ${b64(B)}\n`, current: B, accepted: [A], acceptUnsigned: false },
    { name: 'duplicates and the current key among accepted are dropped', text: `current: ${b64(A)}\naccept: ${b64(A)}\naccept: ${b64(B)}\naccept: ${b64(B)}`, current: A, accepted: [B], acceptUnsigned: false },
    { name: 'open', text: 'current: open', current: undefined, accepted: [], acceptUnsigned: true },
    { name: 'from open, step 1', text: `current: open\naccept: ${b64(A)}`, current: undefined, accepted: [A], acceptUnsigned: true },
    { name: 'from open, step 2', text: `current: ${b64(A)}\r\naccept: open\r\n`, current: A, accepted: [], acceptUnsigned: true },
  ];
  it.each(cases)('$name', ({ text, current, accepted, acceptUnsigned }) => {
    const set = parseMeshKeySet(text, 'the file');
    expect(set.current).toEqual(current);
    expect(set.accepted).toEqual(accepted);
    expect(set.acceptUnsigned).toBe(acceptUnsigned);
    // The text the operator writes reads back as the same set.
    expect(sameKeySet(parseMeshKeySet(formatMeshKeySet(set), 'again'), set)).toBe(true);
  });

  const errors: { name: string; text: string; error: RegExp }[] = [
    { name: 'no current', text: `accept: ${b64(A)}`, error: /the file has no "current:" entry/ },
    { name: 'two current', text: `current: ${b64(A)}\ncurrent: ${b64(B)}`, error: /line 2: a second "current:" entry; one key signs at a time/ },
    { name: 'a short key', text: `current: ${Buffer.alloc(16).toString('base64')}`, error: /line 1 holds 16 bytes; a mesh key needs at least 32/ },
    { name: 'not base64', text: 'current: not*base64', error: /line 1 is not base64/ },
    { name: 'an unknown entry', text: `current: ${b64(A)}\nprevious: ${b64(B)}`, error: /line 2: "previous: .*" is not "current: <base64 key>\|open"/ },
    {
      name: 'too many keys',
      text: [`current: ${b64(A)}`, ...[B, C, Buffer.alloc(32, 4), Buffer.alloc(32, 5)].map((k) => `accept: ${b64(k)}`)].join('\n'),
      error: new RegExp(`holds 5 keys; at most ${MAX_VERIFY_KEYS} may verify at one time`),
    },
  ];
  it.each(errors)('refuses $name with a message that says what to do', ({ text, error }) => {
    expect(() => parseMeshKeySet(text, 'the file')).toThrow(MeshKeyError);
    expect(() => parseMeshKeySet(text, 'the file')).toThrow(error);
  });

  it('orders verification keys current first, and names keys by ids that tell them apart and reveal nothing', () => {
    const set = parseMeshKeySet(`current: ${b64(B)}\naccept: ${b64(A)}\naccept: open`, 'f');
    expect(verifyKeys(set)).toEqual([B, A]);
    expect(meshKeySetIds(set)).toEqual({ current: meshKeyId(B), accepted: [meshKeyId(A), 'open'] });
    expect(meshKeyId(A)).toMatch(/^[0-9a-f]{16}$/);
    expect(meshKeyId(A)).not.toBe(meshKeyId(B));
    expect(A.toString('hex')).not.toContain(meshKeyId(A));
    expect(meshKeyId(undefined)).toBe('open');
  });
});

describe('key files and RMESH_MESH_KEY', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rmesh-keyset-'));

  it('reads a one-key file (base64 or raw) as before, and a key-set file', () => {
    writeFileSync(join(dir, 'one'), `${b64(A)}\n`);
    writeFileSync(join(dir, 'raw'), A);
    writeFileSync(join(dir, 'set'), `current: ${b64(B)}\naccept: ${b64(A)}\n`);
    expect(sameKeySet(readMeshKeySetFile(join(dir, 'one')), singleKeySet(A))).toBe(true);
    expect(sameKeySet(readMeshKeySetFile(join(dir, 'raw')), singleKeySet(A))).toBe(true);
    expect(readMeshKeySetFile(join(dir, 'set')).accepted).toEqual([A]);
    expect(currentMeshKeyOfFile(join(dir, 'set'))).toEqual(B);
    writeFileSync(join(dir, 'open'), 'current: open\n');
    expect(() => currentMeshKeyOfFile(join(dir, 'open'))).toThrow(/says "current: open": there is no key to mint tokens with yet/);
  });

  it('takes either form in RMESH_MESH_KEY, and nothing when unset', () => {
    expect(loadMeshKeySet({ base64: b64(A) })?.current).toEqual(A);
    expect(loadMeshKeySet({ base64: `current: ${b64(A)}\naccept: ${b64(B)}` })?.accepted).toEqual([B]);
    expect(loadMeshKeySet({ base64: '' })).toBeUndefined();
    expect(loadMeshKeySet({})).toBeUndefined();
  });
});

describe('the live set and its file watch', () => {
  const log = pino({ level: 'silent' });

  it('follows the file through a Secret volume\'s symlink swap, keeps the keys in force when the file is bad, and says a change once', () => {
    // What the kubelet does: key -> ..data/key, ..data -> a timestamped directory, swapped by rename.
    const dir = mkdtempSync(join(tmpdir(), 'rmesh-volume-'));
    const publish = (name: string, text: string) => {
      const target = join(dir, `..${name}`);
      mkdirSync(target);
      writeFileSync(join(target, 'key'), text);
      symlinkSync(`..${name}`, join(dir, '..data_tmp'));
      renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    publish('v1', `current: ${b64(A)}\n`);
    symlinkSync('..data/key', join(dir, 'key'));
    const keys = new MeshKeys(readMeshKeySetFile(join(dir, 'key')));
    const changes: string[] = [];
    keys.on('changed', (set) => changes.push(meshKeySetIds(set).current));
    const watch = new MeshKeyFileWatch(join(dir, 'key'), keys, log);

    expect(watch.reload('poll')).toBe(false); // nothing new
    publish('v2', `current: ${b64(A)}\naccept: ${b64(B)}\n`);
    expect(watch.reload('poll')).toBe(true);
    expect(keys.set.accepted).toEqual([B]);
    publish('v3', 'current: nonsense!\n');
    expect(watch.reload('poll')).toBe(false);
    expect(keys.set.accepted).toEqual([B]); // a bad edit does not take the reflector off the mesh
    publish('v4', `current: ${b64(B)}\naccept: ${b64(A)}\n`);
    expect(watch.reload('signal')).toBe(true);
    expect(keys.of('client-token').sign).toBeDefined();
    expect(changes).toEqual([meshKeyId(A), meshKeyId(B)]);
  });
});

describe('every mechanism through a rotation', () => {
  const steps: { name: string; text: string; tokens: Record<'A' | 'B', boolean>; unsigned: boolean }[] = [
    { name: 'before', text: `current: ${b64(A)}`, tokens: { A: true, B: false }, unsigned: false },
    { name: 'step 1', text: `current: ${b64(A)}\naccept: ${b64(B)}`, tokens: { A: true, B: true }, unsigned: false },
    { name: 'step 2', text: `current: ${b64(B)}\naccept: ${b64(A)}`, tokens: { A: true, B: true }, unsigned: false },
    { name: 'step 3', text: `current: ${b64(B)}`, tokens: { A: false, B: true }, unsigned: false },
    { name: 'open', text: 'current: open', tokens: { A: false, B: false }, unsigned: true },
    { name: 'from open, step 2', text: `current: ${b64(B)}\naccept: open`, tokens: { A: false, B: true }, unsigned: true },
  ];

  it.each(steps)('client tokens and peer requests at $name', ({ text, tokens, unsigned }) => {
    const keys = new MeshKeys(parseMeshKeySet(text, 'f'));
    const authorizer = new JoinAuthorizer(keys);
    const verifier = new PeerRequestVerifier(() => keys.of('peer-control').verify);
    expect(authorizer.tokenRequired).toBe(!unsigned);
    for (const [name, key] of [['A', A], ['B', B]] as const) {
      const token = mintClientTokenWithMeshKey(key, { subject: name, role: 'recvonly' });
      if (tokens[name]) {
        expect(authorizer.authenticate(`Bearer ${token}`)?.sub).toBe(name);
      } else if (unsigned) {
        expect(authorizer.authenticate(`Bearer ${token}`)).toBeUndefined(); // taken as no token, as in an open mesh
      } else {
        expect(() => authorizer.authenticate(`Bearer ${token}`)).toThrow(/minted with another mesh key/);
      }
      const header = signPeerRequest(peerControlKey(key), 'POST', '/v1/peers/bye', '{}');
      const problem = verifier.verify(header, 'POST', '/v1/peers/bye', sha256('{}'));
      expect(problem === undefined).toBe(tokens[name]);
    }
    if (unsigned) expect(authorizer.authenticate(undefined)).toBeUndefined();
    else expect(() => authorizer.authenticate(undefined)).toThrow(/needs a client token/);
  });

  it('signs peer requests with the current key only', () => {
    const keys = new MeshKeys(parseMeshKeySet(`current: ${b64(B)}\naccept: ${b64(A)}`, 'f'));
    expect(keys.of('peer-control').sign).toEqual(peerControlKey(B));
    expect(keys.of('peer-control').verify).toEqual([peerControlKey(B), peerControlKey(A)]);
    expect(keys.replace(parseMeshKeySet(`accept: ${b64(A)}\ncurrent: ${b64(B)}`, 'f'))).toBe(false); // the same set
    expect(keys.replace(singleKeySet(B))).toBe(true);
    expect(keys.of('peer-control').verify).toEqual([peerControlKey(B)]);
    expect(new MeshKeys(OPEN_KEY_SET).of('peer-control')).toEqual({ sign: undefined, verify: [], acceptUnsigned: true });
  });
});
