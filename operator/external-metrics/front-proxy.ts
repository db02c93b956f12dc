// Who may call the external metrics API: only kube-apiserver's aggregator, which authenticates to an
// extension API server with its front-proxy client certificate (--proxy-client-cert-file) and passes the
// user it authenticated and authorised in X-Remote-User. The certificate must chain to the request-header
// client CA and, when the cluster names them, carry one of the allowed common names; only then are the
// user headers believed (anyone else could write them). Authorisation is kube-apiserver's: it checked
// RBAC on external.metrics.k8s.io before proxying, as for any API group.
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/** The request-header settings kube-apiserver publishes in kube-system/extension-apiserver-authentication. */
export interface FrontProxyTrust {
  /** PEM of the CA the front-proxy client certificates chain to. */
  clientCa: string;
  /** Common names a front-proxy certificate may have; empty: any certificate of the CA. */
  allowedNames: string[];
  /** Headers carrying the user name, first non-empty wins (X-Remote-User). */
  usernameHeaders: string[];
}

export const AUTHENTICATION_CONFIGMAP = { namespace: 'kube-system', name: 'extension-apiserver-authentication' } as const;

function jsonList(data: Record<string, string>, key: string): string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw new Error(`${key} is not a JSON list of strings`);
  return parsed;
}

/** The trust of the ConfigMap's data; throws naming the key that is missing or malformed. */
export function trustFromConfigMap(data: Record<string, string> | undefined): FrontProxyTrust {
  const where = `ConfigMap ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name}`;
  const clientCa = data?.['requestheader-client-ca-file'];
  if (!clientCa?.includes('BEGIN CERTIFICATE')) {
    throw new Error(
      `${where} has no requestheader-client-ca-file: start kube-apiserver with --requestheader-client-ca-file (the aggregation layer), ` +
        'or give the operator --external-metrics-requestheader-client-ca-file',
    );
  }
  try {
    const usernameHeaders = jsonList(data!, 'requestheader-username-headers');
    return { clientCa, allowedNames: jsonList(data!, 'requestheader-allowed-names'), usernameHeaders: usernameHeaders.length > 0 ? usernameHeaders : ['X-Remote-User'] };
  } catch (err) {
    throw new Error(`${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

export interface TrustSource {
  /** A CA file and allowed names given by flags; otherwise the ConfigMap is read. */
  clientCaFile?: string | undefined;
  allowedNames?: string[] | undefined;
}

/** Reads the trust from the flags' file, or from the cluster's ConfigMap (the operator needs a RoleBinding to extension-apiserver-authentication-reader). */
export async function loadTrust(source: TrustSource, kc: KubeConfig): Promise<FrontProxyTrust> {
  if (source.clientCaFile) {
    let clientCa: string;
    try {
      clientCa = readFileSync(source.clientCaFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read the request-header client CA ${source.clientCaFile}: ${(err as Error).message}`, { cause: err });
    }
    return { clientCa, allowedNames: source.allowedNames ?? [], usernameHeaders: ['X-Remote-User'] };
  }
  const core = kc.makeApiClient(CoreV1Api);
  let data: Record<string, string> | undefined;
  try {
    data = (await core.readNamespacedConfigMap(AUTHENTICATION_CONFIGMAP)).data;
  } catch (err) {
    throw new Error(
      `cannot read ConfigMap ${AUTHENTICATION_CONFIGMAP.namespace}/${AUTHENTICATION_CONFIGMAP.name} (${(err as Error).message}): ` +
        'bind the operator to the Role extension-apiserver-authentication-reader in kube-system (the chart does with externalMetrics.enabled)',
      { cause: err },
    );
  }
  const trust = trustFromConfigMap(data);
  return source.allowedNames && source.allowedNames.length > 0 ? { ...trust, allowedNames: source.allowedNames } : trust;
}

export type Caller = { ok: true; user: string; proxy: string } | { ok: false; why: string };

/**
 * Checks a request's TLS client certificate (already verified against the CA by the TLS handshake, which
 * requests one and records the outcome) and only then reads the user header.
 */
export function authenticate(socket: TLSSocket, headers: Record<string, string | string[] | undefined>, trust: FrontProxyTrust): Caller {
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) {
    return { ok: false, why: 'no client certificate: only the Kubernetes aggregator (its front-proxy client certificate) may call this API; use kubectl get --raw through the API server' };
  }
  if (!socket.authorized) {
    return { ok: false, why: `the client certificate is not trusted (${String(socket.authorizationError)}): it must be signed by the request-header client CA` };
  }
  const cn = cert.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (trust.allowedNames.length > 0 && (name === undefined || !trust.allowedNames.includes(name))) {
    return { ok: false, why: `the client certificate's common name "${name ?? ''}" is not one of the request-header allowed names` };
  }
  for (const header of trust.usernameHeaders) {
    const value = headers[header.toLowerCase()];
    const user = Array.isArray(value) ? value[0] : value;
    if (user) return { ok: true, user, proxy: name ?? '' };
  }
  return { ok: false, why: `no user in ${trust.usernameHeaders.join(', ')}: the front proxy must say whom it authenticated` };
}
