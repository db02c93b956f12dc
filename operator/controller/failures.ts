// What the API server or a reflector refused in the last pass, made visible: a Warning event with the
// server's own message and the Degraded condition's reason, instead of "Progressing" forever. The
// applier records each failed action; the next pass's decision reports them (pure, from Observed).
import type { Action, MeshEvent } from './actions.js';

export interface ActionFailure {
  type: Action['type'];
  /** The HTTP status when the API server answered (403 Forbidden, 422 Invalid, ...). */
  code?: number;
  /** The server's message (describeError), or the reflector's. */
  message: string;
}

/** The Degraded reason for a kind of failed action. */
export function failureReason(type: Action['type']): string {
  switch (type) {
    case 'createPod':
      return 'PodCreateRefused';
    case 'deletePod':
      return 'PodDeleteRefused';
    case 'createSecret':
    case 'writeSecret':
      return 'SecretWriteRefused';
    default:
      return 'ReflectorAdminFailed';
  }
}

/**
 * The server's message without what changes from one attempt to the next (generated pod names, the
 * request's uid), so the recorder's duplicate suppression holds.
 */
export function stableMessage(message: string): string {
  return message
    .replace(/(pods?|secrets?) "[^"]*"/g, '$1 "…"')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '…');
}

/** What to do about a refusal, when the message says what it was. */
function hint(failure: ActionFailure): string {
  const m = failure.message;
  if (/PodSecurity/i.test(m)) return ' Reflector pods use the host network: label the namespace pod-security.kubernetes.io/enforce=privileged (baseline refuses hostNetwork).';
  if (/exceeded quota/i.test(m)) return ' Raise the namespace\'s ResourceQuota or lower the reflectors\' requests.';
  if (/admission webhook/i.test(m)) return ' An admission webhook denied it: see its message above.';
  if (failure.code === 403) return ' Check the operator\'s RBAC (config/rbac/role.yaml).';
  return '';
}

/** The Warning events and the Degraded condition's reason and message for the failures of the last pass. */
export function describeFailures(failures: readonly ActionFailure[]): { events: MeshEvent[]; degraded?: { reason: string; message: string } } {
  if (failures.length === 0) return { events: [] };
  const byReason = new Map<string, ActionFailure>();
  for (const f of failures) if (!byReason.has(failureReason(f.type))) byReason.set(failureReason(f.type), f);
  const what: Record<string, string> = {
    PodCreateRefused: 'creating a reflector pod was refused',
    PodDeleteRefused: 'deleting a reflector pod was refused',
    SecretWriteRefused: 'writing the mesh key Secret was refused',
    ReflectorAdminFailed: 'a reflector\'s admin API call failed',
  };
  const events = [...byReason].map(([reason, f]) => ({ type: 'Warning' as const, reason, message: `${what[reason]}: ${stableMessage(f.message)}` }));
  const [reason, first] = [...byReason][0]!;
  return { events, degraded: { reason, message: `${what[reason]}: ${first.message}.${hint(first)}` } };
}
