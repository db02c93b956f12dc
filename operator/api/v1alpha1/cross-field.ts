// Defaults the CRD's cross-field CEL rules fall back on, shared by the spec sections (reflectormesh.ts).

/**
 * Defaults that CEL rules comparing two fields must use for a field left unset: the API server runs the
 * rules on the object as written, before nested defaults are filled in, and has() is false for such a
 * field. Comparing only fields that are set let `timeouts: {keepaliveIntervalMs: 6000}` through, which
 * resolves to a 5000 ms peer timeout that the reflector refuses.
 */
export const CROSS_FIELD_DEFAULTS = {
  minReplicas: 1,
  maxReplicas: 16,
  dataPort: 5004,
  controlPort: 7400,
  keepaliveIntervalMs: 1000,
  peerTimeoutMs: 5000,
  clientIdleTimeoutMs: 10000,
  terminationGracePeriodSeconds: 60,
  shutdownDrainSeconds: 30,
} as const;

/** Seconds the kubelet's grace period must exceed the reflector's SIGTERM drain by (its exit, the last datagrams). */
export const GRACE_MARGIN_SECONDS = 5;

/** `self.FIELD`, or its default when unset. */
export function orDefault(path: string, field: keyof typeof CROSS_FIELD_DEFAULTS): string {
  return `(has(self.${path}) ? self.${path} : ${CROSS_FIELD_DEFAULTS[field]})`;
}
