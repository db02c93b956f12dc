// The certificates of a throw-away control plane, made with openssl: a CA, the API server's serving
// certificate, an admin client certificate in system:masters, the service-account signing key pair, and
// the aggregation layer's front-proxy CA and client certificate.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ControlPlaneCerts {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPublicKey: string;
  /** The aggregation layer's (makeFrontProxyCerts). */
  frontProxy: ReturnType<typeof makeFrontProxyCerts>;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const e = err as { code?: string; stderr?: Buffer; message: string };
    if (e.code === 'ENOENT') throw new Error('openssl is needed to make the test certificates: apt-get install openssl', { cause: err });
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString() ?? e.message}`, { cause: err });
  }
}

/** Signs a new key's certificate with the CA; `extensions` is an openssl extension section. */
function issue(dir: string, name: string, subject: string, extensions: string[]): void {
  writeFileSync(join(dir, `${name}.ext`), extensions.join('\n') + '\n');
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '7', '-out', `${name}.crt`, '-extfile', `${name}.ext`],
    dir,
  );
}

/** A client certificate of `dir`'s CA (e.g. a kubelet's: CN=system:node:<name>, O=system:nodes). */
export function issueClientCert(dir: string, name: string, subject: string): { cert: string; key: string } {
  issue(dir, name, subject, ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth']);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

/** A CA (ca.crt, ca.key) in `dir`, which issue() and issueClientCert() of that directory sign with. */
function makeCa(dir: string, commonName: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '7',
      '-subj', `/CN=${commonName}`, '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
}

/**
 * The aggregation layer's certificates in `dir` (a directory of their own): the request-header client CA,
 * apart from the cluster's CA as Kubernetes advises (a client certificate of the cluster CA must not pass
 * for the front proxy), and the front proxy's client certificate (CN front-proxy-client) that
 * kube-apiserver presents to extension API servers.
 */
export function makeFrontProxyCerts(dir: string): { caCert: string; clientCert: string; clientKey: string; allowedName: string } {
  makeCa(dir, 'rmesh-e2e-front-proxy-ca');
  const { cert, key } = issueClientCert(dir, 'front-proxy-client', '/CN=front-proxy-client');
  return { caCert: join(dir, 'ca.crt'), clientCert: cert, clientKey: key, allowedName: 'front-proxy-client' };
}

/**
 * A CA and one certificate of it for both ends of a TLS connection (serverAuth and clientAuth), valid for
 * `ips` and `dnsNames`, in `dir` as ca.crt, tls.crt and tls.key: the layout KEDA's operator and metrics
 * server read from their --cert-dir (the Secret its own cert rotation would write).
 */
export function makeServiceCerts(dir: string, commonName: string, ips: string[], dnsNames: string[]): { caCert: string; cert: string; key: string } {
  makeCa(dir, `${commonName}-ca`);
  const names = [...ips.map((ip) => `IP:${ip}`), ...dnsNames.map((d) => `DNS:${d}`)];
  issue(dir, 'tls', `/CN=${commonName}`, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth,clientAuth',
    `subjectAltName=${names.join(',')}`,
  ]);
  return { caCert: join(dir, 'ca.crt'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
}

/** Makes every certificate and key in `dir`; the serving certificate is valid for `serverAddress`. */
export function makeControlPlaneCerts(dir: string, serverAddress: string): ControlPlaneCerts {
  makeCa(dir, 'rmesh-e2e-ca');
  issue(dir, 'apiserver', '/CN=kube-apiserver', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    `subjectAltName=IP:${serverAddress},IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,` +
      'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
  ]);
  issue(dir, 'admin', '/O=system:masters/CN=rmesh-e2e-admin', [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=clientAuth',
  ]);
  openssl(['genrsa', '-out', 'service-account.key', '2048'], dir);
  openssl(['rsa', '-in', 'service-account.key', '-pubout', '-out', 'service-account.pub'], dir);
  const frontProxyDir = join(dir, 'front-proxy');
  mkdirSync(frontProxyDir);
  return {
    frontProxy: makeFrontProxyCerts(frontProxyDir),
    caCert: join(dir, 'ca.crt'),
    caKey: join(dir, 'ca.key'),
    servingCert: join(dir, 'apiserver.crt'),
    servingKey: join(dir, 'apiserver.key'),
    adminCert: join(dir, 'admin.crt'),
    adminKey: join(dir, 'admin.key'),
    serviceAccountKey: join(dir, 'service-account.key'),
    serviceAccountPublicKey: join(dir, 'service-account.pub'),
  };
}
