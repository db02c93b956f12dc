// The operator's side of a reflector's admin API (docs/protocol.md §3.3): status, the peer list,
// drain and migrate, signed with the mesh key as peers sign their requests (reflector/security/
// peer-control.ts), or with the mesh's admin token when there is no key. An interface, so the applier is
// tested against a fake and the integration test drives real reflectors through the real one.
import type { ReflectorInfo, StatusResponse } from '../../protocol/api-schemas.js';
import { controlUrl, requestJson, type RequestOptions } from '../../client/http.js';
import { peerControlKey, signPeerRequest } from '../../protocol/security/peer-control.js';
import type { ReflectorReport } from './observed.js';

export interface ReflectorTarget {
  address: string;
  controlPort: number;
  /** Admin token; undefined when the mesh has no Secret. */
  token?: string;
  /** The mesh key: requests are signed with it (what a keyed mesh's admin routes need by default). */
  meshKey?: Buffer;
}

/** How a request to `t` authenticates: signed with the mesh key when known, else the admin token. */
function credentials(t: ReflectorTarget): Pick<RequestOptions, 'authorize' | 'token'> {
  if (t.meshKey) {
    const key = peerControlKey(t.meshKey);
    return { authorize: (method, path, body) => signPeerRequest(key, method, path, body) };
  }
  return t.token !== undefined ? { token: t.token } : {};
}

export interface ReflectorAdmin {
  status(target: ReflectorTarget): Promise<ReflectorReport>;
  setPeers(target: ReflectorTarget, peers: ReflectorInfo[]): Promise<void>;
  drain(target: ReflectorTarget, exclude: string[]): Promise<void>;
  migrate(target: ReflectorTarget, clientId: string, to: string): Promise<void>;
}

export interface HttpReflectorAdminOptions {
  /** Timeout of status, peer and drain calls. */
  timeoutMs: number;
  /** Timeout of a migration, which returns only when the client has moved. */
  migrateTimeoutMs: number;
}

/** The report the decisions need, from the full status document. */
export function toReport(status: StatusResponse): ReflectorReport {
  return {
    draining: status.draining,
    clients: status.clients.map((c) => ({ clientId: c.clientId, role: c.role, state: c.state })),
    peers: status.peers.map((p) => p.id),
    outboundStreams: status.outboundStreams,
    outboundBitsPerSecond: status.outboundBitsPerSecond,
    ...(status.outboundRateStreams !== undefined ? { outboundRateStreams: status.outboundRateStreams } : {}),
    ...(status.awaitingPeerList ? { awaitingPeerList: true } : {}),
    ...(status.meshKeys ? { meshKeys: status.meshKeys } : {}),
  };
}

export function httpReflectorAdmin(options: HttpReflectorAdminOptions): ReflectorAdmin {
  const url = (t: ReflectorTarget, path: string) => controlUrl(t.address, t.controlPort, path);
  return {
    async status(t) {
      return toReport(await requestJson<StatusResponse>(url(t, '/v1/status'), { ...credentials(t), timeoutMs: options.timeoutMs }));
    },
    async setPeers(t, peers) {
      await requestJson(url(t, '/v1/peers'), { method: 'PUT', body: { peers }, ...credentials(t), timeoutMs: options.timeoutMs });
    },
    async drain(t, exclude) {
      await requestJson(url(t, '/v1/drain'), { method: 'POST', body: exclude.length > 0 ? { exclude } : {}, ...credentials(t), timeoutMs: options.timeoutMs });
    },
    async migrate(t, clientId, to) {
      await requestJson(url(t, `/v1/clients/${clientId}/migrate`), { method: 'POST', body: { to }, ...credentials(t), timeoutMs: options.migrateTimeoutMs });
    },
  };
}
