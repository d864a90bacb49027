/**
 * CIDR parsing and membership for policy nets and ipBlocks, on ipaddr.js. Parsed once at normalization.
 * Like Calico (cnet.ParseCIDR then ipNet.String()), a CIDR with host bits set is accepted and masked.
 */
import ipaddr from 'ipaddr.js';
import { InvalidInputError } from '../errors.ts';

export interface Cidr {
  /** As written in the policy. */
  text: string;
  family: 4 | 6;
  range: [ipaddr.IPv4 | ipaddr.IPv6, number];
}

export function parseCidr(value: unknown, field: string): Cidr {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64)
    throw new InvalidInputError(field, 'must be a CIDR string');
  // Calico accepts a bare address as a /32 or /128 in nets.
  const text = value.includes('/') ? value : `${value}/${value.includes(':') ? 128 : 32}`;
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  const addr = text.slice(0, text.indexOf('/'));
  try {
    // ipaddr.js also reads "10.1" and hex/octal IPv4 forms; Kubernetes and Calico accept only dotted quads.
    if (!addr.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(addr)) throw new Error('not four-part');
    range = ipaddr.parseCIDR(text);
  } catch {
    throw new InvalidInputError(field, `${JSON.stringify(value.slice(0, 40))} is not a valid CIDR`);
  }
  return { text: value, family: range[0].kind() === 'ipv4' ? 4 : 6, range };
}

export interface ParsedIp {
  text: string;
  family: 4 | 6;
  addr: ipaddr.IPv4 | ipaddr.IPv6;
}

export function parseIp(value: unknown, field: string): ParsedIp {
  const valid =
    typeof value === 'string' &&
    (ipaddr.IPv4.isValidFourPartDecimal(value) ||
      (value.includes(':') && ipaddr.IPv6.isValid(value) && !value.includes('%')));
  if (typeof value !== 'string' || !valid)
    throw new InvalidInputError(field, `${JSON.stringify(String(value).slice(0, 40))} is not an IP address`);
  let addr = ipaddr.parse(value);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress())
    addr = (addr as ipaddr.IPv6).toIPv4Address();
  return { text: value, family: addr.kind() === 'ipv4' ? 4 : 6, addr };
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.family !== ip.family) return false;
  return ip.addr.match(cidr.range as [typeof ip.addr, number]);
}
