/**
 * Listening TCP sockets from `ss -H -lntp` ("LISTEN 0 511 127.0.0.1:10249 0.0.0.0:* users:(("kube-proxy",pid=14448,fd=14))")
 * or `netstat -lntp` ("tcp 0 0 127.0.0.1:10249 0.0.0.0:* LISTEN 14448/kube-proxy"), keeping what an engineer reads
 * off them: the bind address (`127.0.0.1:10249` is not `*:10249`), the port and the process holding it. `ss` with -u
 * or -a puts a Netid column first, and netstat a Proto one: only tcp lines count there. A line counts when its state
 * is LISTEN. Pure.
 */
import { isIP } from 'node:net';

export interface Listener {
  /**
   * The bind address as the kernel reports it, without brackets or a `%iface` scope: `0.0.0.0`, `::` and `*` (any
   * address), `127.0.0.1`, `::1`, `192.168.1.105`, `::ffff:10.0.0.1`.
   */
  address: string;
  port: number;
  /** The first process holding the socket (`kube-proxy`); null when the tool could not say (ss without root, netstat `-`). */
  process: string | null;
}

/** `[::]:31080`, `*:22`, `127.0.0.53%lo:53`, `:::8000` (netstat), `0.0.0.0:80` → address and port. */
function splitLocal(local: string): { address: string; port: number } | null {
  const m = /^(?<addr>\[[^\]]*\]|.*?):(?<port>\d+|\*)$/.exec(local);
  if (!m?.groups || m.groups.port === '*') return null;
  const address = m.groups.addr!.replace(/^\[(.*)\]$/, '$1').replace(/%[^%]*$/, '');
  return { address: address === '' ? '::' : address, port: Number(m.groups.port) };
}

/** ss's `users:(("kube-proxy",pid=14448,fd=14),…)` or netstat's `14448/kube-proxy`. */
function processOf(rest: string): string | null {
  const ss = /users:\(\("(?<name>[^"]*)"/.exec(rest);
  if (ss?.groups) return ss.groups.name!;
  const netstat = /^\d+\/(?<name>\S.*?)\s*$/.exec(rest.trim());
  return netstat?.groups ? netstat.groups.name! : null;
}

/** Every TCP listener ss or netstat printed, in their order; one line per socket (IPv4 and IPv6 sockets apart). */
export function listenersFromSs(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // Netid/Proto is a lowercase word (tcp, tcp6, udp, u_str, unix …); a state is uppercase (LISTEN, UNCONN).
    if (/^[a-z][a-z0-9_]*$/.test(cols[0]!) && !cols.shift()!.startsWith('tcp')) continue;
    // Left: ss's State Recv-Q Send-Q Local Peer [Process], or netstat's Recv-Q Send-Q Local Foreign State [PID/Program].
    const netstat = /^\d+$/.test(cols[0] ?? '');
    const [state, local, rest] = netstat
      ? [cols[4], cols[2], cols.slice(5).join(' ')]
      : [cols[0], cols[3], cols.slice(5).join(' ')];
    const at = state === 'LISTEN' && local ? splitLocal(local) : null;
    if (at) out.push({ ...at, process: processOf(rest) });
  }
  return out;
}

/** The ports something listens on, in order, once each (for tables and evidence). */
export function listeningPorts(listeners: readonly Listener[]): number[] {
  return [...new Set(listeners.map((l) => l.port))].sort((a, b) => a - b);
}

/** `0.0.0.0`, `::` and `*` take connections to any local address. */
export function isWildcardAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '*';
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped form. */
export function isLoopbackAddress(address: string): boolean {
  const v4 = address.replace(/^::ffff:/i, '');
  return (isIP(v4) === 4 && v4.startsWith('127.')) || address === '::1';
}

/**
 * Whether a connection to `address`:`port` finds a listener. An IPv6 wildcard (`::`, or ss's `*`) takes IPv4 too, as
 * Linux sockets do unless net.ipv6.bindv6only is set; `0.0.0.0` only IPv4.
 */
export function acceptsOn(listeners: readonly Listener[], port: number, address: string): boolean {
  const family = isIP(address);
  return listeners.some((l) => {
    if (l.port !== port) return false;
    if (l.address === '*' || l.address === '::') return true;
    if (l.address === '0.0.0.0') return family === 4;
    return l.address === address || l.address.replace(/^::ffff:/i, '') === address;
  });
}

/** `address:port` as ss prints it (`[::1]:80` for IPv6). */
export function listenerText(l: Listener): string {
  const where = l.address.includes(':') ? `[${l.address}]` : l.address;
  return `${where}:${l.port}${l.process ? ` (${l.process})` : ''}`;
}
