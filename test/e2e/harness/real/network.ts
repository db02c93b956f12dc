// The real-node cluster's network, all made by the test: a bridge in the host's namespace carrying the
// API server's address, and one network namespace per node joined to it by a veth pair. The namespaces
// have no default route, so nothing in them can reach beyond these addresses. Pods that are not on the
// host network (the operator) get addresses on a bridge inside their node (CNI bridge plugin); the host
// and the other nodes route to them through that node's address.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';

/** The bridge, its subnet and the host's address on it (the API server listens there). */
export const clusterNet = {
  bridge: 'rmesh-e2e0',
  prefix: 24,
  hostAddress: '10.213.0.1',
  /** Network namespaces are named `${netnsPrefix}<node index>`. */
  netnsPrefix: 'rmesh-e2e-node',
} as const;

/** The address of node `index` (1-based) on the bridge. */
export const nodeAddress = (index: number): string => `10.213.0.${10 + index}`;

/**
 * Address `index` (1-based) of the clients: extra addresses of the host on the bridge, so each client
 * is a host of its own as the reflectors see it, outside every node.
 */
export const clientAddress = (index: number): string => `10.213.0.${100 + index}`;
export const clientAddressCount = 8;

/** The pod subnet of node `index` (its CNI bridge's range). */
export const podSubnet = (index: number): string => `10.214.${index}.0/24`;

/** What a pod's network reaches (through its node): the bridge's subnet and every node's pods. */
export const clusterRoutes = ['10.213.0.0/24', '10.214.0.0/16'];

export const netnsPath = (index: number): string => `/run/netns/${clusterNet.netnsPrefix}${index}`;

function ip(args: string[], netns?: string): void {
  const [cmd, full] = netns ? ['nsenter', [`--net=${netns}`, 'ip', ...args]] : ['ip', args];
  try {
    execFileSync(cmd, full, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${cmd} ${full.join(' ')} failed: ${stderr ?? (err as Error).message}`, { cause: err });
  }
}

/** The host's bridge with its address (no other route than its own subnet's). */
export function createBridge(): void {
  ip(['link', 'add', clusterNet.bridge, 'type', 'bridge']);
  ip(['addr', 'add', `${clusterNet.hostAddress}/${clusterNet.prefix}`, 'dev', clusterNet.bridge]);
  for (let i = 1; i <= clientAddressCount; i++) ip(['addr', 'add', `${clientAddress(i)}/32`, 'dev', clusterNet.bridge]);
  ip(['link', 'set', clusterNet.bridge, 'up']);
}

/**
 * Node `index`'s namespace: loopback, eth0 with the node's address, forwarding on (its pods' bridge),
 * routes to the other nodes' pod subnets through those nodes; and the host's route to its pod subnet.
 */
export function createNodeNetwork(index: number, nodeCount: number): void {
  const name = `${clusterNet.netnsPrefix}${index}`;
  const ns = netnsPath(index);
  const hostEnd = `rmesh-e2e-v${index}`;
  ip(['netns', 'add', name]);
  ip(['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name]);
  ip(['link', 'set', hostEnd, 'master', clusterNet.bridge, 'up']);
  ip(['link', 'set', 'lo', 'up'], ns);
  ip(['addr', 'add', `${nodeAddress(index)}/${clusterNet.prefix}`, 'dev', 'eth0'], ns);
  ip(['link', 'set', 'eth0', 'up'], ns);
  execFileSync('nsenter', [`--net=${ns}`, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  for (let other = 1; other <= nodeCount; other++) {
    if (other !== index) ip(['route', 'add', podSubnet(other), 'via', nodeAddress(other)], ns);
  }
  ip(['route', 'add', podSubnet(index), 'via', nodeAddress(index)]);
}

/** Removes every node namespace and the bridge (with it the veths and the host's routes); idempotent. */
export function removeClusterNetwork(): void {
  const names = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(clusterNet.netnsPrefix)) : [];
  for (const name of names) {
    try {
      ip(['netns', 'delete', name]);
    } catch {
      // Still held by a process being killed: the bridge goes anyway; the reaper of the next run retries.
    }
  }
  if (existsSync(`/sys/class/net/${clusterNet.bridge}`)) ip(['link', 'delete', clusterNet.bridge]);
}
