// The operator's mesh-key rotation decisions (operator/controller/key-rotation.ts), table-driven: each
// step is published only once every reflector reports the step before, the old key is dropped only
// after the overlap, and nothing moves outside a rotation.
import { describe, expect, it } from 'vitest';
import { CATCH_UP_REQUEUE_MS, decideKeyRotation, type KeyRotationInput } from '../../../operator/controller/key-rotation.js';
import { MAX_VERIFY_KEYS, meshKeySetIds, singleKeySet, type MeshKeySet, type MeshKeySetIds } from '../../../protocol/security/mesh-key-set.js';

const K0 = Buffer.alloc(32, 0x10);
const K1 = Buffer.alloc(32, 0x11);
const K2 = Buffer.alloc(32, 0x12);
const NOW = 1_800_000_000_000;
const OVERLAP = 60_000;

const set = (current: Buffer, ...accepted: Buffer[]): MeshKeySet => ({ current, accepted, acceptUnsigned: false });
const STEADY = singleKeySet(K0);
const STEP_1 = set(K0, K1);
const STEP_2 = set(K1, K0);
const STEP_3 = singleKeySet(K1);
const ids = (s: MeshKeySet): MeshKeySetIds => meshKeySetIds(s);

function input(over: Partial<KeyRotationInput> & { everyone?: MeshKeySet }): KeyRotationInput {
  const pods = over.pods ?? ['r-a', 'r-b', 'r-c'];
  const reported = over.reported ?? new Map(pods.map((p) => [p, over.everyone ? ids(over.everyone) : undefined]));
  return { desired: K1, published: STEADY, publishedAtMs: NOW - 1000, pods, reported, nowMs: NOW, overlapMs: OVERLAP, ...over };
}

const cases: { name: string; in: KeyRotationInput; publish?: { set: MeshKeySet; step: string }; waiting?: RegExp; requeue?: number }[] = [
  { name: 'no key set yet: publish the one key', in: input({ desired: K0, published: undefined }), publish: { set: STEADY, step: 'initial' } },
  { name: 'steady: nothing to do', in: input({ desired: K0, everyone: STEADY }) },
  { name: 'steady even when a reflector does not answer', in: input({ desired: K0, reported: new Map([['r-a', ids(STEADY)]]) }) },
  { name: 'the Secret changed: step 1, accept the new key (nobody waited for)', in: input({ everyone: STEADY }), publish: { set: STEP_1, step: 'accept' } },
  { name: 'step 1 not loaded everywhere: wait', in: input({ published: STEP_1, reported: new Map([['r-a', ids(STEP_1)], ['r-b', ids(STEADY)], ['r-c', ids(STEP_1)]]) }), waiting: /waiting for 1 reflector \(r-b\) to accept the new key/, requeue: CATCH_UP_REQUEUE_MS },
  { name: 'step 1 and a reflector silent: wait (it may still hold the old set)', in: input({ published: STEP_1, reported: new Map([['r-a', ids(STEP_1)], ['r-b', ids(STEP_1)]]) }), waiting: /waiting for 1 reflector \(r-c\)/ },
  { name: 'step 1 everywhere: step 2, sign with the new key', in: input({ published: STEP_1, everyone: STEP_1 }), publish: { set: STEP_2, step: 'sign' } },
  { name: 'step 2 not loaded everywhere: wait', in: input({ published: STEP_2, publishedAtMs: NOW - 2 * OVERLAP, reported: new Map([['r-a', ids(STEP_2)], ['r-b', ids(STEP_1)], ['r-c', ids(STEP_1)]]) }), waiting: /waiting for 2 reflectors \(r-b, r-c\) to sign with the new key/ },
  { name: 'step 2 everywhere, inside the overlap: wait out the rest', in: input({ published: STEP_2, publishedAtMs: NOW - 20_000, everyone: STEP_2 }), waiting: /stays accepted 40 s more/, requeue: 40_000 },
  { name: 'step 2 everywhere, overlap over: step 3, drop the old key', in: input({ published: STEP_2, publishedAtMs: NOW - OVERLAP, everyone: STEP_2 }), publish: { set: STEP_3, step: 'drop' } },
  { name: 'step 2 with no time recorded: the overlap starts now', in: input({ published: STEP_2, publishedAtMs: undefined, everyone: STEP_2 }), waiting: /60 s more/ },
  { name: 'no pods (scaled to zero): the steps go straight on', in: input({ published: STEP_1, pods: [] }), publish: { set: STEP_2, step: 'sign' } },
  { name: 'after step 3: steady again', in: input({ published: STEP_3, everyone: STEP_3 }) },
  { name: 'a newer key during an overlap: accepted beside both', in: input({ desired: K2, published: STEP_2, everyone: STEP_2 }), publish: { set: set(K1, K0, K2), step: 'accept' } },
  { name: 'then signed with, both older keys still accepted', in: input({ desired: K2, published: set(K1, K0, K2), everyone: set(K1, K0, K2) }), publish: { set: set(K2, K1, K0), step: 'sign' } },
  { name: 'back to the old key mid-rotation (the user undid the edit): sign with it again', in: input({ desired: K0, published: STEP_2, everyone: STEP_2 }), publish: { set: set(K0, K1), step: 'sign' } },
  {
    name: 'a full set: wait rather than exceed what reflectors verify',
    in: input({ desired: K2, published: set(K0, ...Array.from({ length: MAX_VERIFY_KEYS - 1 }, (_, i) => Buffer.alloc(32, 0x40 + i))) }),
    waiting: /already holds 4 keys/,
  },
  {
    name: 'from an open mesh (unsigned still accepted): drop that with the old key',
    in: input({ desired: K1, published: { current: K1, accepted: [], acceptUnsigned: true }, publishedAtMs: NOW - OVERLAP, everyone: { current: K1, accepted: [], acceptUnsigned: true } }),
    publish: { set: STEP_3, step: 'drop' },
  },
];

describe('decideKeyRotation', () => {
  it.each(cases)('$name', (c) => {
    const d = decideKeyRotation(c.in);
    if (c.publish) {
      expect(d.publish?.step).toBe(c.publish.step);
      expect(d.publish && ids(d.publish.set)).toEqual(ids(c.publish.set));
      expect(d.publish?.set.acceptUnsigned).toBe(c.publish.set.acceptUnsigned);
    } else {
      expect(d.publish).toBeUndefined();
    }
    if (c.waiting) expect(d.waiting).toMatch(c.waiting);
    else expect(d.waiting).toBeUndefined();
    if (c.requeue !== undefined) expect(d.requeueAfterMs).toBe(c.requeue);
  });

  it('walks a whole rotation, one published step per pass, every reflector loading each before the next', () => {
    let published: MeshKeySet = STEADY;
    let at = NOW;
    const steps: string[] = [];
    for (let pass = 0, now = NOW; pass < 10; pass++, now += OVERLAP / 2) {
      const d = decideKeyRotation(input({ published, publishedAtMs: at, nowMs: now, everyone: published }));
      if (!d.publish) continue;
      steps.push(d.publish.step);
      published = d.publish.set;
      at = now;
    }
    expect(steps).toEqual(['accept', 'sign', 'drop']);
    expect(ids(published)).toEqual(ids(STEP_3));
  });
});
