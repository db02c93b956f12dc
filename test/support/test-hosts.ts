// Test hosts: network namespaces made by a test itself, one per emulated host, joined by veth pairs to a
// bridge that lives in a namespace of its own (never the root namespace). A host's outbound link can be
// limited by `tc` (a token bucket with a short queue, so traffic above the rate is dropped, not delayed
// for seconds). Addresses are on one subnet with no default route: nothing is routed off the machine.
//
// Every namespace of a network is named `rmh-<owner pid>-<seq>-...`. They are removed on destroy(), on
// the process's exit and on SIGINT/SIGTERM/SIGHUP; a process killed with SIGKILL leaves them behind, and
// the next TestNetwork.create() on the machine removes every network whose owner is gone (the reaper).
// Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) and iproute2. Used by the Erum capacity benchmark
// (bench/erum) and meant for anything that needs several hosts on one machine.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

const PREFIX = 'rmh';
const NAME = /^rmh-(\d+)-\d+-/;
/** An Ethernet frame's header: what tc counts on a veth besides the IP packet. */
export const ETHERNET_HEADER_BYTES = 14;

export interface LinkLimit {
  /** The token bucket's rate in bit/s, counted as tc counts: IP packet plus the 14-byte Ethernet header. */
  rateBitsPerSecond: number;
  /** How long a queue the link keeps before it drops, at its rate (default 50 ms). */
  queueMs?: number;
  /** The token bucket's depth in bytes: what may leave at once at full speed (default two 1514-byte frames). */
  burstBytes?: number;
}

export interface HostOptions {
  /** The host's address on the network (IPv4); the network's prefix length applies. */
  address: string;
  /** More addresses on the same interface (several clients on one host, each with its own address). */
  extraAddresses?: string[];
  /** Limits what the host sends onto the network; unlimited when absent. */
  egress?: LinkLimit;
}

export interface NetworkOptions {
  /** Prefix length of every host's address (default 16). No route beyond this subnet exists. */
  prefixLength?: number;
}

/** Counters of a host's outbound link, as tc reports them for its root qdisc. */
export interface LinkStats {
  bytes: number;
  packets: number;
  dropped: number;
  overlimits: number;
}

let sequence = 0;
const live = new Set<TestNetwork>();
let handlersInstalled = false;

/** A network of test hosts. Create with TestNetwork.create(), remove with destroy(). */
export class TestNetwork {
  private readonly hosts = new Map<string, TestHost>();
  private readonly children = new Set<ChildProcess>();
  private attached: string | undefined;
  private destroyed = false;

  private constructor(
    /** `rmh-<pid>-<seq>`: the prefix of every namespace of this network. */
    readonly id: string,
    readonly bridgeNamespace: string,
    readonly prefixLength: number,
  ) {}

  /** Removes networks left by dead owners, then makes a bridge in a namespace of its own. */
  static async create(options: NetworkOptions = {}): Promise<TestNetwork> {
    reapStaleNetworks();
    const id = `${PREFIX}-${process.pid}-${sequence++}`;
    const network = new TestNetwork(id, `${id}-bridge`, options.prefixLength ?? 16);
    live.add(network);
    installHandlers();
    try {
      await ip(['netns', 'add', network.bridgeNamespace]);
      await network.inBridge(['link', 'set', 'lo', 'up']);
      await network.inBridge(['link', 'add', 'br0', 'type', 'bridge']);
      await network.inBridge(['link', 'set', 'br0', 'up']);
    } catch (err) {
      network.destroySync();
      throw err;
    }
    return network;
  }

  /** The hosts added so far, by name. */
  host(name: string): TestHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name} in network ${this.id}; hosts: ${[...this.hosts.keys()].join(', ') || 'none'}`);
    return host;
  }

  /** Adds a host: a namespace with loopback up and eth0 on the bridge, at `address`, limited if asked. */
  async addHost(name: string, options: HostOptions): Promise<TestHost> {
    if (this.destroyed) throw new Error(`network ${this.id} is destroyed`);
    if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(name)) throw new Error(`host name ${JSON.stringify(name)}: use lower-case letters, digits and dashes`);
    if (this.hosts.has(name)) throw new Error(`network ${this.id} has a host ${name} already`);
    const namespace = `${this.id}-${name}`;
    const port = `v${this.hosts.size}`; // the bridge's end; names are per namespace, so short ones do
    await ip(['netns', 'add', namespace]);
    const host = new TestHost(this, name, namespace, options.address);
    this.hosts.set(name, host);
    await host.ip(['link', 'set', 'lo', 'up']);
    await host.ip(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', port, 'netns', this.bridgeNamespace]);
    await this.inBridge(['link', 'set', port, 'master', 'br0']);
    await this.inBridge(['link', 'set', port, 'up']);
    for (const address of [options.address, ...(options.extraAddresses ?? [])]) {
      await host.ip(['addr', 'add', `${address}/${this.prefixLength}`, 'dev', 'eth0']);
    }
    await host.ip(['link', 'set', 'eth0', 'up']);
    if (options.egress) await host.limitEgress(options.egress);
    return host;
  }

  /**
   * Joins the calling process's own network namespace to the bridge at `address`, so the caller can
   * reach the hosts. Refused in the machine's root namespace: run the caller in a private one
   * (`unshare --net`, or `ip netns exec rmt-<name>`): one with no interface but loopback.
   */
  async attachCaller(address: string): Promise<void> {
    const others = callerInterfaces();
    if (others.length) {
      throw new Error(`attachCaller: this process's network namespace has interfaces of its own (${others.join(', ')}), as the machine's root namespace does; run it in a private one (unshare --net, or ip netns exec rmt-<name>) so no route to the test network is added beside them`);
    }
    if (this.attached) throw new Error(`the caller is attached already (${this.attached})`);
    const local = `${PREFIX}${process.pid}c${this.id.split('-').pop()}`.slice(0, 15);
    const port = 'vcaller';
    await ip(['link', 'add', local, 'type', 'veth', 'peer', 'name', port, 'netns', this.bridgeNamespace]);
    this.attached = local;
    await this.inBridge(['link', 'set', port, 'master', 'br0']);
    await this.inBridge(['link', 'set', port, 'up']);
    await ip(['addr', 'add', `${address}/${this.prefixLength}`, 'dev', local]);
    await ip(['link', 'set', local, 'up']);
    await ip(['link', 'set', 'lo', 'up']);
  }

  /** Spawns a process inside a namespace of this network; it is killed when the network is destroyed. */
  spawnIn(namespace: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', namespace, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Kills what runs in the network's namespaces and removes them (idempotent). */
  destroy(): Promise<void> {
    this.destroySync();
    return Promise.resolve();
  }

  /**
   * The synchronous form, for exit handlers: kill the processes inside each namespace first (a
   * namespace with a process in it outlives its name), then delete the names.
   */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const child of this.children) child.kill('SIGKILL');
    if (this.attached) ipQuiet(['link', 'del', this.attached]);
    removeNamespaces(listNamespaces().filter((ns) => ns.startsWith(`${this.id}-`)));
  }

  private inBridge(args: string[]): Promise<void> {
    return ip(['-n', this.bridgeNamespace, ...args]);
  }
}

/** One emulated host: a network namespace with eth0 on the network's bridge. */
export class TestHost {
  constructor(
    readonly network: TestNetwork,
    readonly name: string,
    /** The namespace's name, for `ip netns exec`. */
    readonly namespace: string,
    readonly address: string,
  ) {}

  /** Runs a command in the host's namespace to completion; rejects with its stderr on failure. */
  async exec(command: string, args: readonly string[] = []): Promise<{ stdout: string; stderr: string }> {
    try {
      return await run('ip', ['netns', 'exec', this.namespace, command, ...args], { maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as Error & { stderr?: string };
      throw new Error(`${command} ${args.join(' ')} in host ${this.name} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
    }
  }

  /** Spawns a process in the host's namespace (stdio piped unless options say otherwise). */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return this.network.spawnIn(this.namespace, command, args, options);
  }

  /** `ip` in this namespace. */
  ip(args: string[]): Promise<void> {
    return ip(['-n', this.namespace, ...args]);
  }

  /** Sets (or replaces) the token bucket on the host's outbound link. */
  async limitEgress(limit: LinkLimit): Promise<void> {
    const { rateBitsPerSecond: rate } = limit;
    if (!(Number.isFinite(rate) && rate >= 8000)) throw new RangeError(`egress rate must be at least 8000 bit/s, got ${rate}`);
    const burst = limit.burstBytes ?? 2 * 1514;
    const queue = Math.max(2 * 1514, Math.round((rate / 8) * ((limit.queueMs ?? 50) / 1000)));
    await run('tc', ['-n', this.namespace, 'qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', `${Math.round(rate)}bit`, 'burst', String(burst), 'limit', String(queue)]);
  }

  /** What the host has sent on its link, and what the token bucket dropped. */
  async linkStats(): Promise<LinkStats> {
    const { stdout } = await run('tc', ['-n', this.namespace, '-s', 'qdisc', 'show', 'dev', 'eth0']);
    const sent = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(stdout);
    if (!sent) throw new Error(`unexpected tc output for host ${this.name}: ${stdout}`);
    return { bytes: Number(sent[1]), packets: Number(sent[2]), dropped: Number(sent[3]), overlimits: Number(sent[4]) };
  }
}

/** Removes every network whose owner process no longer runs; returns the namespaces removed. */
export function reapStaleNetworks(): string[] {
  const stale = listNamespaces().filter((ns) => {
    const owner = NAME.exec(ns);
    return owner !== null && !alive(Number(owner[1]));
  });
  removeNamespaces(stale);
  return stale;
}

/** The names of the machine's named network namespaces that belong to test networks. */
export function listNamespaces(): string[] {
  // stderr ignored: ip complains about other tools' namespaces that are half gone.
  const out = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((ns) => ns.startsWith(`${PREFIX}-`));
}

function removeNamespaces(namespaces: string[]): void {
  // Hosts first, the bridge last: a host's veth goes with its namespace.
  const ordered = [...namespaces].sort((a, b) => Number(a.endsWith('-bridge')) - Number(b.endsWith('-bridge')));
  for (const ns of ordered) {
    let pids: number[] = [];
    try {
      pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').filter(Boolean).map(Number);
    } catch {
      // gone already
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    ipQuiet(['netns', 'del', ns]);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The interfaces of the calling process's network namespace other than loopback and test networks' own:
 * none in a private namespace (unshare --net, ip netns add), the machine's NICs in the root namespace.
 */
export function callerInterfaces(): string[] {
  const out = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name !== '' && name !== 'lo' && !name.startsWith(PREFIX));
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.trim() || e.message} (test hosts need root and iproute2)`, { cause: err });
  }
}

function ipQuiet(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const destroyAll = (): void => {
    for (const network of [...live]) network.destroySync();
  };
  process.on('exit', destroyAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      destroyAll();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}
