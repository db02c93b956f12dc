// The operator's mesh-key rotation decisions, pure (docs/security.md "Rotating the mesh key"). The
// mesh's key Secret (the user's, or the generated `<mesh>-mesh-key`) holds the key the mesh should
// sign with; the operator publishes what the reflectors hold in a key-set Secret of its own, which the
// pods mount as their key file (read again every second, no restart). When the two differ it moves the
// published set one step at a time, and moves on only once every reflector reports (GET /v1/status,
// meshKeys) that it holds the step before, so no reflector ever signs with a key a peer cannot verify:
//   1) accept the new key            {current: old, accept: [new]}   once the Secret changed
//   2) sign with it                  {current: new, accept: [old]}   once every reflector accepts new
//   3) drop the old key              {current: new}                  once every reflector signs with
//                                                                    new and the overlap has passed
// The overlap after step 2 is the time clients have to replace tokens minted with the old key.
import { MAX_VERIFY_KEYS, meshKeyId, meshKeySetIds, singleKeySet, verifyKeys, type MeshKeySet, type MeshKeySetIds } from '../../protocol/security/mesh-key-set.js';

/** Default time between signing with the new key and dropping the old one (tokens minted with it stop working then). */
export const DEFAULT_KEY_OVERLAP_MS = 10 * 60_000;

export interface KeyRotationInput {
  /** The key the mesh's key Secret holds now. */
  desired: Buffer;
  /** The set published in the key-set Secret; undefined when that Secret does not exist yet. */
  published: MeshKeySet | undefined;
  /** When the published set last changed (ms since the epoch); undefined when unknown. */
  publishedAtMs: number | undefined;
  /** Every reflector pod of the mesh that is not on its way out, by name. */
  pods: readonly string[];
  /** The key set each pod reports; a pod absent here did not answer (or is too old to say). */
  reported: ReadonlyMap<string, MeshKeySetIds | undefined>;
  nowMs: number;
  overlapMs: number;
}

export interface KeyRotationDecision {
  /** The set to publish now (with the step it is), or nothing. */
  publish?: { set: MeshKeySet; step: 'initial' | 'accept' | 'sign' | 'drop' };
  /** Why nothing moves yet (for the status, the log and an event), when a rotation is under way. */
  waiting?: string;
  /** Look again this soon (the overlap's end, or while reflectors catch up). */
  requeueAfterMs?: number;
}

/** How soon to look again while reflectors load a step (the kubelet updates Secret volumes within a minute or so). */
export const CATCH_UP_REQUEUE_MS = 5000;

export function decideKeyRotation(input: KeyRotationInput): KeyRotationDecision {
  const { desired, published } = input;
  if (!published) return { publish: { set: singleKeySet(desired), step: 'initial' } };
  const desiredId = meshKeyId(desired);
  const verifying = verifyKeys(published);
  if (!verifying.some((k) => k.equals(desired))) {
    // Step 1. A key still accepted from an earlier rotation stays until that one is finished with.
    const set: MeshKeySet = { current: published.current, accepted: [...published.accepted, desired], acceptUnsigned: published.acceptUnsigned };
    if (verifyKeys(set).length > MAX_VERIFY_KEYS) return { waiting: `the key set already holds ${MAX_VERIFY_KEYS} keys; finish the rotation under way first`, requeueAfterMs: CATCH_UP_REQUEUE_MS };
    return { publish: { set, step: 'accept' } };
  }
  const behind = laggards(input, published);
  if (!published.current?.equals(desired)) {
    // Step 2, once every reflector verifies with the new key.
    if (behind.length) return waitFor(behind, `to accept the new key ${desiredId}`);
    const accepted = [published.current, ...published.accepted.filter((k) => !k.equals(desired))].filter((k): k is Buffer => k !== undefined);
    return { publish: { set: { current: desired, accepted, acceptUnsigned: published.acceptUnsigned }, step: 'sign' } };
  }
  if (published.accepted.length === 0 && !published.acceptUnsigned) return {};
  // Step 3, once every reflector signs with the new key and the overlap has passed.
  if (behind.length) return waitFor(behind, `to sign with the new key ${desiredId}`);
  const since = input.publishedAtMs ?? input.nowMs;
  const left = since + input.overlapMs - input.nowMs;
  if (left > 0) return { waiting: `the old key stays accepted ${Math.ceil(left / 1000)} s more (the overlap for tokens minted with it)`, requeueAfterMs: left };
  return { publish: { set: singleKeySet(desired), step: 'drop' } };
}

/** Pods that do not report exactly the published set (not answered, or still on an older step). */
function laggards(input: KeyRotationInput, published: MeshKeySet): string[] {
  const want = meshKeySetIds(published);
  return input.pods.filter((pod) => {
    const ids = input.reported.get(pod);
    return !ids || !sameIds(ids, want);
  });
}

function sameIds(a: MeshKeySetIds, b: MeshKeySetIds): boolean {
  return a.current === b.current && a.accepted.length === b.accepted.length && [...a.accepted].sort().join() === [...b.accepted].sort().join();
}

function waitFor(pods: string[], what: string): KeyRotationDecision {
  const shown = pods.slice(0, 3).join(', ') + (pods.length > 3 ? ` and ${pods.length - 3} more` : '');
  return { waiting: `waiting for ${pods.length} reflector${pods.length === 1 ? '' : 's'} (${shown}) ${what}`, requeueAfterMs: CATCH_UP_REQUEUE_MS };
}
