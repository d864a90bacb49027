/**
 * `address:port` in one spelling, whatever wrote it: iptables-save prints an IPv6 DNAT target as `[fd00::5]:8080`
 * (kube-proxy writes it with net.JoinHostPort), the API's endpoints give `fd00:0:0::5` and 8080 apart. Both become
 * the RFC 5952 address, bracketed when IPv6: `[fd00::5]:8080`, `10.244.0.2:8080`. Pure.
 */
import ipaddr from 'ipaddr.js';

/** The address in its shortest standard form (`fd00:0:0::5` → `fd00::5`); the input when it is not an address. */
export function canonicalIp(ip: string): string {
  const bare = ip.replace(/^\[(.*)\]$/, '$1');
  return ipaddr.isValid(bare) ? ipaddr.parse(bare).toString() : bare;
}

export function joinHostPort(ip: string, port: number | string): string {
  const host = canonicalIp(ip);
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `[fd00::5]:8080`, `10.244.0.2:8080`, `10.244.0.2` (a DNAT without a port) → the joined form; the text unchanged when unreadable. */
export function canonicalHostPort(text: string): string {
  const bracketed = /^\[(?<host>[^\]]+)\](?::(?<port>\d+))?$/.exec(text);
  if (bracketed?.groups)
    return bracketed.groups.port
      ? joinHostPort(bracketed.groups.host!, bracketed.groups.port)
      : canonicalIp(bracketed.groups.host!);
  const v4 = /^(?<host>\d+\.\d+\.\d+\.\d+)(?::(?<port>\d+))?$/.exec(text);
  if (v4?.groups) return v4.groups.port ? joinHostPort(v4.groups.host!, v4.groups.port) : v4.groups.host!;
  // A bare IPv6 address (no port can be told apart without brackets).
  return ipaddr.isValid(text) ? canonicalIp(text) : text;
}
