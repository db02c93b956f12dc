import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deriveMeshSubkey, loadMeshKey, MeshKeyError, parseMeshKeyBase64, readMeshKeyFile } from '../../../protocol/security/mesh-key.js';

const dir = mkdtempSync(join(tmpdir(), 'rmesh-key-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

describe('mesh key loading', () => {
  it('decodes base64 (standard and URL-safe, with a trailing newline)', () => {
    expect(parseMeshKeyBase64(`${KEY.toString('base64')}\n`, 'x')).toEqual(KEY);
    expect(parseMeshKeyBase64(KEY.toString('base64url'), 'x')).toEqual(KEY);
  });

  it('refuses short, empty and non-base64 keys saying how to make one', () => {
    expect(() => parseMeshKeyBase64(Buffer.alloc(31).toString('base64'), 'RMESH_MESH_KEY')).toThrow(/31 bytes.*at least 32.*urandom/);
    expect(() => parseMeshKeyBase64('', 'RMESH_MESH_KEY')).toThrow(MeshKeyError);
    expect(() => parseMeshKeyBase64('not base64!', 'RMESH_MESH_KEY')).toThrow(/not base64/);
  });

  it('reads a file of base64 text or of raw bytes', () => {
    const text = join(dir, 'text');
    writeFileSync(text, `${KEY.toString('base64')}\n`);
    expect(readMeshKeyFile(text)).toEqual(KEY);
    const raw = join(dir, 'raw');
    const bytes = Buffer.concat([Buffer.from([0xff, 0x00, 0x2e]), KEY]);
    writeFileSync(raw, bytes);
    expect(readMeshKeyFile(raw)).toEqual(bytes);
    expect(() => readMeshKeyFile(join(dir, 'missing'))).toThrow(/cannot read the mesh key file/);
  });

  it('prefers the file, and is undefined when nothing is set', () => {
    const file = join(dir, 'pref');
    writeFileSync(file, KEY.toString('base64'));
    expect(loadMeshKey({ file, base64: Buffer.alloc(40, 7).toString('base64') })).toEqual(KEY);
    expect(loadMeshKey({ base64: '' })).toBeUndefined();
    expect(loadMeshKey({})).toBeUndefined();
  });
});

describe('deriveMeshSubkey', () => {
  it('gives a distinct 32-byte key per purpose, stable for a key, different for another key', () => {
    const tag = deriveMeshSubkey(KEY, 'peer-tag');
    const token = deriveMeshSubkey(KEY, 'client-token');
    const control = deriveMeshSubkey(KEY, 'peer-control');
    expect(tag).toHaveLength(32);
    expect(new Set([tag, token, control].map((b) => b.toString('hex'))).size).toBe(3);
    expect(deriveMeshSubkey(KEY, 'peer-tag')).toEqual(tag);
    expect(deriveMeshSubkey(Buffer.alloc(32, 1), 'peer-tag')).not.toEqual(tag);
    expect(deriveMeshSubkey(KEY, 'peer-tag', 'a')).not.toEqual(deriveMeshSubkey(KEY, 'peer-tag', 'b'));
  });

  it('matches HKDF-SHA256 with the documented salt and info', async () => {
    const { hkdfSync } = await import('node:crypto');
    const expected = Buffer.from(hkdfSync('sha256', KEY, Buffer.from('rmesh mesh key v1'), Buffer.from('rmesh/peer-tag'), 32));
    expect(deriveMeshSubkey(KEY, 'peer-tag')).toEqual(expected);
  });

  it('refuses a short key', () => {
    expect(() => deriveMeshSubkey(Buffer.alloc(16), 'peer-tag')).toThrow(/at least 32/);
  });
});
