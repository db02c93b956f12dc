// `rmesh operator`: runs the ReflectorMesh operator, or prints its generated manifests (the CRD and
// the RBAC it needs). Every flag is also settable from an RMESH_OPERATOR_* environment variable.
import { Command, Option } from 'commander';
import { parseDurationMs, parsePort, parsePositiveInt } from './option-parsers.js';
import { UsageError } from './errors.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

interface Flags {
  kubeconfig?: string;
  namespace: string[];
  host: string;
  port: number;
  leaderElect: boolean;
  leaderElectionId: string;
  leaderElectionNamespace?: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  resyncPeriod: number;
  watchSilenceTimeout: number;
  statusInterval: number;
  statusWriteInterval: number;
  reflectorTimeout: number;
  migrateTimeout: number;
  workers: number;
  reflectorImage: string;
  logLevel: string;
  externalMetricsPort?: number;
  externalMetricsTlsCertFile?: string;
  externalMetricsTlsKeyFile?: string;
  externalMetricsRequestheaderClientCaFile?: string;
  externalMetricsRequestheaderAllowedNames?: string;
  printCrd?: boolean;
  printRbac?: boolean;
}

function collectNamespaces(value: string, previous: string[]): string[] {
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n) || n.length > 63) throw new UsageError(`--namespace: "${n}" is not a namespace name.`);
  }
  return [...previous, ...names];
}

export function register(program: Command): void {
  program
    .command('operator')
    .description('run the ReflectorMesh operator (or print its CRD / RBAC manifests)')
    .addOption(new Option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)').env('KUBECONFIG'))
    .addOption(new Option('--namespace <ns>', 'namespace to watch; repeat or comma-separate for several').env('RMESH_OPERATOR_NAMESPACE').argParser(collectNamespaces).default([], 'all'))
    .addOption(new Option('--host <ip>', 'address of the health and metrics server').env('RMESH_OPERATOR_HOST').default('0.0.0.0'))
    .addOption(new Option('--port <port>', 'port of /healthz, /readyz and /metrics').env('RMESH_OPERATOR_PORT').default(8080).argParser(parsePort))
    .addOption(new Option('--leader-elect', 'elect one active replica with a coordination.k8s.io Lease').env('RMESH_OPERATOR_LEADER_ELECT').default(false))
    .addOption(new Option('--leader-election-id <name>', 'name of the Lease').env('RMESH_OPERATOR_LEADER_ELECTION_ID').default('reflector-mesh-operator'))
    .addOption(new Option('--leader-election-namespace <ns>', 'namespace of the Lease (default: $POD_NAMESPACE, else default)').env('RMESH_OPERATOR_LEADER_ELECTION_NAMESPACE'))
    .addOption(new Option('--lease-duration <duration>', 'how long a Lease holds without renewal').env('RMESH_OPERATOR_LEASE_DURATION').default(15_000, '15s').argParser(parseDurationMs))
    .addOption(new Option('--renew-deadline <duration>', 'the leader steps down if it cannot renew within this').env('RMESH_OPERATOR_RENEW_DEADLINE').default(10_000, '10s').argParser(parseDurationMs))
    .addOption(new Option('--retry-period <duration>', 'interval of Lease attempts and renewals').env('RMESH_OPERATOR_RETRY_PERIOD').default(2_000, '2s').argParser(parseDurationMs))
    .addOption(new Option('--resync-period <duration>', 'every mesh is reconciled at least this often from the caches').env('RMESH_OPERATOR_RESYNC_PERIOD').default(300_000, '5m').argParser(parseDurationMs))
    .addOption(new Option('--watch-silence-timeout <duration>', 'a watch with no event (or bookmark) for this long is restarted').env('RMESH_OPERATOR_WATCH_SILENCE_TIMEOUT').default(90_000, '90s').argParser(parseDurationMs))
    .addOption(new Option('--status-interval <duration>', 'how often each mesh\'s reflectors are polled (client counts, autoscaling)').env('RMESH_OPERATOR_STATUS_INTERVAL').default(10_000, '10s').argParser(parseDurationMs))
    .addOption(new Option('--status-write-interval <duration>', 'least time between status writes of a mesh when only rates and the numbers they move changed').env('RMESH_OPERATOR_STATUS_WRITE_INTERVAL').default(30_000, '30s').argParser(parseDurationMs))
    .addOption(new Option('--reflector-timeout <duration>', 'timeout of status, peer and drain calls to a reflector').env('RMESH_OPERATOR_REFLECTOR_TIMEOUT').default(3_000, '3s').argParser(parseDurationMs))
    .addOption(new Option('--migrate-timeout <duration>', 'timeout of one client migration').env('RMESH_OPERATOR_MIGRATE_TIMEOUT').default(15_000, '15s').argParser(parseDurationMs))
    .addOption(new Option('--workers <n>', 'meshes reconciled in parallel').env('RMESH_OPERATOR_WORKERS').default(2).argParser(parsePositiveInt))
    .addOption(new Option('--reflector-image <image>', 'image of reflector pods when a mesh names none').env('RMESH_OPERATOR_REFLECTOR_IMAGE').default('ghcr.io/reflector-mesh/rmesh:0.1.0'))
    .addOption(new Option('--log-level <level>', 'log level').env('RMESH_LOG_LEVEL').default('info').choices(LOG_LEVELS))
    .addOption(new Option('--external-metrics-port <port>', 'serve the Kubernetes external metrics API (external.metrics.k8s.io, for an HPA through an APIService) over HTTPS on this port (default: off)').env('RMESH_OPERATOR_EXTERNAL_METRICS_PORT').argParser(parsePort))
    .addOption(new Option('--external-metrics-tls-cert-file <path>', 'its serving certificate (PEM; default: self-signed at start)').env('RMESH_OPERATOR_EXTERNAL_METRICS_TLS_CERT_FILE'))
    .addOption(new Option('--external-metrics-tls-key-file <path>', 'the key of --external-metrics-tls-cert-file').env('RMESH_OPERATOR_EXTERNAL_METRICS_TLS_KEY_FILE'))
    .addOption(new Option('--external-metrics-requestheader-client-ca-file <path>', 'CA of the aggregator\'s front-proxy client certificates (default: from ConfigMap kube-system/extension-apiserver-authentication)').env('RMESH_OPERATOR_EXTERNAL_METRICS_REQUESTHEADER_CLIENT_CA_FILE'))
    .addOption(new Option('--external-metrics-requestheader-allowed-names <names>', 'comma-separated common names a front-proxy certificate may have (default: the ConfigMap\'s; empty there: any of the CA)').env('RMESH_OPERATOR_EXTERNAL_METRICS_REQUESTHEADER_ALLOWED_NAMES'))
    .addOption(new Option('--print-crd', 'print the ReflectorMesh CustomResourceDefinition and exit'))
    .addOption(new Option('--print-rbac', 'print the RBAC rules the operator needs and exit'))
    .action(async (flags: Flags) => {
      // Loaded here, not at the top: the Kubernetes client is heavy, and every other subcommand
      // (a reflector starting in a pod, rmesh plan) would pay for it at start-up.
      if (flags.printCrd) return void process.stdout.write((await import('../operator/api/v1alpha1/index.js')).crdYaml());
      if (flags.printRbac) return void process.stdout.write((await import('../operator/rbac.js')).rbacYaml());
      const { defaultIdentity, runOperator } = await import('../operator/main.js');
      if (flags.renewDeadline >= flags.leaseDuration) {
        throw new UsageError('--renew-deadline must be shorter than --lease-duration.');
      }
      if (flags.retryPeriod >= flags.renewDeadline) {
        throw new UsageError('--retry-period must be shorter than --renew-deadline.');
      }
      await runOperator({
        ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}),
        namespaces: [...new Set(flags.namespace)],
        host: flags.host,
        port: flags.port,
        leaderElect: flags.leaderElect === true || (flags.leaderElect as unknown) === 'true',
        leaseName: flags.leaderElectionId,
        leaseNamespace: flags.leaderElectionNamespace ?? process.env.POD_NAMESPACE ?? 'default',
        identity: defaultIdentity(),
        leaseDurationMs: flags.leaseDuration,
        renewDeadlineMs: flags.renewDeadline,
        retryPeriodMs: flags.retryPeriod,
        resyncMs: flags.resyncPeriod,
        watchSilenceMs: flags.watchSilenceTimeout,
        statusRefreshMs: flags.statusInterval,
        statusWriteIntervalMs: flags.statusWriteInterval,
        reflectorTimeoutMs: flags.reflectorTimeout,
        migrateTimeoutMs: flags.migrateTimeout,
        workers: flags.workers,
        reflectorImage: flags.reflectorImage,
        logLevel: flags.logLevel,
        ...(flags.externalMetricsPort !== undefined
          ? {
              externalMetrics: {
                port: flags.externalMetricsPort,
                tlsCertFile: flags.externalMetricsTlsCertFile,
                tlsKeyFile: flags.externalMetricsTlsKeyFile,
                clientCaFile: flags.externalMetricsRequestheaderClientCaFile,
                allowedNames: flags.externalMetricsRequestheaderAllowedNames?.split(',').map((n) => n.trim()).filter((n) => n !== ''),
              },
            }
          : {}),
      });
    });
}
