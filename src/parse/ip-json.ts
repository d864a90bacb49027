/**
 * iproute2's JSON output (`ip -j route|link|addr|neigh`, `bridge -j fdb`, iproute2 4.13+) → plain records. Pure. The
 * route is also printed back as `ip route` prints it, so evidence reads like what an engineer would see by hand.
 */
import { tableName } from './ip-rule.ts';

export interface RouteLine {
  /** The route as the node printed it (`ip route` text), used as evidence. */
  raw: string;
  destination: string;
  gateway: string | null;
  device: string | null;
  /** unicast, blackhole, unreachable, prohibit … */
  type: string;
  /**
   * The routing table (`ip route show table all` prints `table NAME` / `table 100` for any but main): `main` or
   * absent for the main table. Lookups use other tables only where an `ip rule` sends there.
   */
  table?: string;
  /** `proto` as printed (`kernel`, `bird`, `80` for Felix, `dhcp` …); absent when not printed. */
  protocol?: string;
}

export interface LinkFacts {
  name: string;
  up: boolean;
  mtu: number | null;
}

export interface NeighbourEntry {
  ip: string;
  device: string | null;
  lladdr: string | null;
  state: string[];
}

export interface FdbEntry {
  mac: string;
  dst: string | null;
}

interface IpJsonRoute {
  type?: string;
  dst: string;
  table?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  flags?: string[];
  /** A multipath route's next hops (its own gateway and dev are then absent). */
  nexthops?: { gateway?: string; dev?: string; weight?: number; flags?: string[] }[];
}

/** The route as `ip route` prints it (next hops on one line). */
export function routeText(r: IpJsonRoute): string {
  const parts = [r.type && r.type !== 'unicast' ? `${r.type} ${r.dst}` : r.dst];
  if (r.gateway) parts.push(`via ${r.gateway}`);
  if (r.dev) parts.push(`dev ${r.dev}`);
  if (r.table && tableName(r.table) !== 'main') parts.push(`table ${tableName(r.table)}`);
  if (r.protocol) parts.push(`proto ${r.protocol}`);
  if (r.scope) parts.push(`scope ${r.scope}`);
  if (r.prefsrc) parts.push(`src ${r.prefsrc}`);
  if (r.metric !== undefined) parts.push(`metric ${r.metric}`);
  for (const f of r.flags ?? []) parts.push(f);
  for (const nh of r.nexthops ?? []) {
    parts.push('nexthop');
    if (nh.gateway) parts.push(`via ${nh.gateway}`);
    if (nh.dev) parts.push(`dev ${nh.dev}`);
    if (nh.weight !== undefined) parts.push(`weight ${nh.weight}`);
    for (const f of nh.flags ?? []) parts.push(f);
  }
  return parts.join(' ');
}

/** A multipath route's gateway and device are its first next hop's, as `route -n` shows it. */
export function routesFromIpJson(json: string): RouteLine[] {
  return (JSON.parse(json || '[]') as IpJsonRoute[]).map((r) => ({
    raw: routeText(r),
    destination: r.dst,
    gateway: r.gateway ?? r.nexthops?.[0]?.gateway ?? null,
    device: r.dev ?? r.nexthops?.[0]?.dev ?? null,
    type: r.type ?? 'unicast',
    ...(r.table && tableName(r.table) !== 'main' ? { table: tableName(r.table) } : {}),
    ...(r.protocol ? { protocol: r.protocol } : {}),
  }));
}

interface IpJsonLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export function linksFromIpJson(json: string): LinkFacts[] {
  return (JSON.parse(json || '[]') as IpJsonLink[]).map((l) => ({
    name: l.ifname,
    up: (l.flags ?? []).includes('UP'),
    mtu: l.mtu ?? null,
  }));
}

/** Addresses per interface, from `ip -j addr`: IPv4 only unless IPv6 is asked for too (then link-local fe80:: stays out). */
export function addressesFromIpJson(json: string, options: { ipv6?: boolean } = {}): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const wanted = (a: { family: string; local: string }) =>
    a.family === 'inet' || (options.ipv6 === true && a.family === 'inet6' && !/^fe80:/i.test(a.local));
  for (const l of JSON.parse(json || '[]') as IpJsonLink[])
    out[l.ifname] = (l.addr_info ?? []).filter(wanted).map((a) => `${a.local}/${a.prefixlen}`);
  return out;
}

export function neighboursFromIpJson(json: string): NeighbourEntry[] {
  return (JSON.parse(json || '[]') as { dst: string; dev?: string; lladdr?: string; state?: string[] }[]).map((n) => ({
    ip: n.dst,
    device: n.dev ?? null,
    lladdr: n.lladdr ?? null,
    state: n.state ?? [],
  }));
}

/** `bridge -j fdb show dev IF`: VXLAN's remote VTEP MAC → node IP entries. */
export function fdbFromBridgeJson(json: string): FdbEntry[] {
  return (JSON.parse(json || '[]') as { mac: string; dst?: string }[]).map((e) => ({ mac: e.mac, dst: e.dst ?? null }));
}
