/**
 * CIDRs and addresses of either family, for route lookups and pool or block membership (IPv4's integer arithmetic for
 * the lab stays in ipv4.ts). On ipaddr.js; a CIDR with host bits set is read as its network. Pure; null, never a throw,
 * for anything unreadable.
 */
import ipaddr from 'ipaddr.js';

export interface IpRange {
  family: 4 | 6;
  addr: ipaddr.IPv4 | ipaddr.IPv6;
  prefix: number;
}

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (text.includes('%')) return null;
  if (!text.includes(':')) return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : null;
  return ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : null;
}

/** `10.244.0.0/26`, `fd00:10:244::/122`, a bare address (a /32 or /128); `default` is read as the family's 0/0. */
export function parseRange(text: string, defaultFamily: 4 | 6 = 4): IpRange | null {
  if (text === 'default') return parseRange(defaultFamily === 6 ? '::/0' : '0.0.0.0/0');
  const [ip, len, extra] = text.split('/');
  if (ip === undefined || extra !== undefined) return null;
  const addr = parseAddress(ip);
  if (!addr) return null;
  const family = addr.kind() === 'ipv4' ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { family, addr, prefix };
}

export function ipFamilyOf(ip: string): 4 | 6 | null {
  const addr = parseAddress(ip);
  return addr ? (addr.kind() === 'ipv4' ? 4 : 6) : null;
}

export function rangeContains(range: IpRange, ip: string): boolean {
  const addr = parseAddress(ip);
  if (!addr || addr.kind() !== range.addr.kind()) return false;
  return (addr as ipaddr.IPv4).match(range.addr as ipaddr.IPv4, range.prefix);
}

export function rangesOverlap(a: IpRange, b: IpRange): boolean {
  if (a.family !== b.family) return false;
  const prefix = Math.min(a.prefix, b.prefix);
  return (a.addr as ipaddr.IPv4).match(b.addr as ipaddr.IPv4, prefix);
}

/** Whether `inner` lies wholly inside `outer`. */
export function rangeWithin(inner: IpRange, outer: IpRange): boolean {
  return (
    inner.family === outer.family &&
    inner.prefix >= outer.prefix &&
    (inner.addr as ipaddr.IPv4).match(outer.addr as ipaddr.IPv4, outer.prefix)
  );
}

/** The CIDR text's range contains `ip` (false for anything unreadable). */
export function cidrHolds(cidr: string, ip: string): boolean {
  const r = parseRange(cidr);
  return r !== null && rangeContains(r, ip);
}
