import { describe, expect, it } from 'vitest';
import { FRESHNESS_MS, parsePeerAuthorization, peerControlKey, PeerRequestVerifier, sha256, signPeerRequest } from '../../../protocol/security/peer-control.js';

const KEY = peerControlKey(Buffer.alloc(32, 5));
const body = JSON.stringify({ id: 'r1', clients: 3 });

describe('signed peer requests', () => {
  it('verify once with the same key, method, path and body', () => {
    let now = 1_800_000_000_000;
    const v = new PeerRequestVerifier(KEY, () => now);
    const header = signPeerRequest(KEY, 'POST', '/v1/peers/keepalive', body, now);
    expect(parsePeerAuthorization(header)).toBeDefined();
    expect(v.precheck(header)).toBeUndefined();
    expect(v.verify(header, 'POST', '/v1/peers/keepalive', sha256(body))).toBeUndefined();
    expect(v.verify(header, 'POST', '/v1/peers/keepalive', sha256(body))).toMatch(/seen before/);
    now += 1;
  });

  it('refuse another key, another path, method or body, a stale or future timestamp, and no signature', () => {
    const now = 1_800_000_000_000;
    const v = new PeerRequestVerifier(KEY, () => now);
    const other = peerControlKey(Buffer.alloc(32, 6));
    expect(v.verify(signPeerRequest(other, 'POST', '/v1/peers/bye', body, now), 'POST', '/v1/peers/bye', sha256(body))).toMatch(/does not verify/);
    const h = () => signPeerRequest(KEY, 'POST', '/v1/peers/bye', body, now);
    expect(v.verify(h(), 'POST', '/v1/peers/admit', sha256(body))).toMatch(/does not verify/);
    expect(v.verify(h(), 'PUT', '/v1/peers/bye', sha256(body))).toMatch(/does not verify/);
    expect(v.verify(h(), 'POST', '/v1/peers/bye', sha256(`${body} `))).toMatch(/does not verify/);
    expect(v.verify(signPeerRequest(KEY, 'POST', '/v1/peers/bye', body, now - FRESHNESS_MS - 1), 'POST', '/v1/peers/bye', sha256(body))).toMatch(/clock/);
    expect(v.verify(signPeerRequest(KEY, 'POST', '/v1/peers/bye', body, now + FRESHNESS_MS + 1), 'POST', '/v1/peers/bye', sha256(body))).toMatch(/clock/);
    expect(v.precheck(undefined)).toMatch(/no peer signature/);
    expect(v.precheck('Bearer abc')).toMatch(/no peer signature/);
    expect(v.precheck('RMESH-HMAC ts=1,nonce=short,sig=x')).toMatch(/no peer signature/);
  });

  it('forget nonces once they are too old to be fresh', () => {
    let now = 1_800_000_000_000;
    const v = new PeerRequestVerifier(KEY, () => now);
    for (let i = 0; i < 50; i++) expect(v.verify(signPeerRequest(KEY, 'POST', '/p', '', now), 'POST', '/p', sha256(''))).toBeUndefined();
    now += 3 * FRESHNESS_MS;
    expect(v.verify(signPeerRequest(KEY, 'POST', '/p', '', now), 'POST', '/p', sha256(''))).toBeUndefined();
    expect((v as unknown as { nonces: Map<string, number> }).nonces.size).toBe(1);
  });
});
