// The kernel's count of datagrams it dropped on a UDP socket because its receive buffer was full (the
// main loss under overload), for the TypeScript engine: node:dgram gives no SO_RXQ_OVFL, so it is read
// from the `drops` column of /proc/net/udp (udp6) of the process's network namespace, on a counters()
// call (a scrape), never on the hot path. The native engine reads SO_RXQ_OVFL per batch instead.
import { readFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';

/** /proc/net/udp's form of an IPv4 address: the four bytes as one little-endian hex word. */
function procAddressV4(address: string): string {
  return address
    .split('.')
    .map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/**
 * Drops of the UDP socket bound to address:port (IPv4 matched on address and port, IPv6 on the port),
 * or 0 when there is no /proc (not Linux) or no such socket.
 */
export function udpSocketDrops(address: string, port: number): number {
  const v4 = isIPv4(address);
  let text: string;
  try {
    text = readFileSync(v4 ? '/proc/net/udp' : '/proc/net/udp6', 'latin1');
  } catch {
    return 0;
  }
  const portHex = port.toString(16).padStart(4, '0').toUpperCase();
  const wanted = v4 ? [`${procAddressV4(address)}:${portHex}`, `00000000:${portHex}`] : undefined;
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (!local || fields.length < 13) continue;
    const matches = wanted ? wanted.includes(local) : local.endsWith(`:${portHex}`);
    if (matches) return Number(fields[fields.length - 1]) || 0;
  }
  return 0;
}
