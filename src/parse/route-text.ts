/**
 * Route tables printed as text, for nodes where `ip -j` is not available: `ip route` lines and `route -n`
 * (net-tools) tables. Pure; lines that do not parse (prompts, headers, blank lines) are kept in `unparsed`.
 */
import { isIP } from 'node:net';
import type { RouteLine } from './ip-json.ts';
import { tableName } from './ip-rule.ts';

export interface ParsedRoutes {
  routes: RouteLine[];
  unparsed: string[];
}

const ROUTE_TYPES = new Set([
  'unicast',
  'blackhole',
  'unreachable',
  'prohibit',
  'throw',
  'local',
  'broadcast',
  'multicast',
  'anycast',
  'nat',
]);
const IP_ROUTE = /^(?:(?<type>[a-z]+)\s+)?(?<dst>default|[0-9a-fA-F.:]+(?:\/\d{1,3})?)(?<rest>(?:\s+.*)?)$/;
/** A multipath route's next hops, each on its own tab-indented line under the destination. */
const NEXTHOP = /^nexthop\s/;

function isDestination(dst: string): boolean {
  return dst === 'default' || isIP(dst.split('/')[0]!) !== 0;
}

/**
 * `ip route` text: "10.244.0.64/26 via 10.244.0.64 dev vxlan.calico proto 80 onlink", "blackhole 10.244.0.0/26 proto bird".
 * A multipath route's `nexthop via … dev …` lines join the route above them; its gateway and device are the first
 * next hop's, as `route -n` shows it.
 */
export function parseIpRouteText(text: string): ParsedRoutes {
  const routes: RouteLine[] = [];
  const unparsed: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.trim().replace(/\s+/g, ' ');
    if (!line) continue;
    const previous = routes.at(-1);
    if (NEXTHOP.test(line) && /^\s/.test(raw) && previous) {
      previous.raw = `${previous.raw} ${line}`;
      previous.gateway ??= /^nexthop via (?:inet6? )?(\S+)/.exec(line)?.[1] ?? null;
      previous.device ??= /\sdev (\S+)/.exec(line)?.[1] ?? null;
      continue;
    }
    const m = IP_ROUTE.exec(line);
    const type = m?.groups?.type;
    if (!m?.groups || (type !== undefined && !ROUTE_TYPES.has(type)) || !isDestination(m.groups.dst!)) {
      unparsed.push(raw);
      continue;
    }
    const rest = m.groups.rest ?? '';
    // `ip route show table all` names every table but main: `table local`, `table 100`.
    const table = /\stable (\S+)/.exec(rest)?.[1];
    const protocol = /\sproto (\S+)/.exec(rest)?.[1];
    routes.push({
      raw: line,
      destination: m.groups.dst!,
      gateway: /\svia (?:inet6? )?(\S+)/.exec(rest)?.[1] ?? null,
      device: /\sdev (\S+)/.exec(rest)?.[1] ?? null,
      type: type ?? 'unicast',
      ...(table && tableName(table) !== 'main' ? { table: tableName(table) } : {}),
      ...(protocol ? { protocol } : {}),
    });
  }
  return { routes, unparsed };
}

function maskToPrefix(mask: string): number | null {
  const parts = mask.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null;
  const bits = parts.map((p) => p.toString(2).padStart(8, '0')).join('');
  return /^1*0*$/.test(bits) ? (bits.indexOf('0') === -1 ? 32 : bits.indexOf('0')) : null;
}

const ROUTE_N =
  /^(?<dst>\d+\.\d+\.\d+\.\d+)\s+(?<gw>\d+\.\d+\.\d+\.\d+|-)\s+(?<mask>\d+\.\d+\.\d+\.\d+)\s+(?<flags>[A-Z!]+)\s+(?<metric>\d+)\s+(?<ref>\d+|-)\s+(?<use>\d+)\s+(?<iface>\S+)$/;

/**
 * `route -n`: Destination Gateway Genmask Flags Metric Ref Use Iface. Gateway 0.0.0.0 means directly connected;
 * Iface `*` or `-` with no gateway is a route without a device (Calico's blackhole for its own block), `!` a reject
 * (net-tools prints an unreachable route as "10.99.0.0 - 255.255.0.0 ! 0 - 0 -": gateway and Ref `-`).
 */
export function parseRouteN(text: string): ParsedRoutes {
  const routes: RouteLine[] = [];
  const unparsed: string[] = [];
  for (const raw of text.replace(/\r/g, '').split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = ROUTE_N.exec(line);
    const prefix = m?.groups ? maskToPrefix(m.groups.mask!) : null;
    if (!m?.groups || prefix === null) {
      unparsed.push(raw);
      continue;
    }
    const g = m.groups;
    const destination = g.dst === '0.0.0.0' && prefix === 0 ? 'default' : prefix === 32 ? g.dst! : `${g.dst}/${prefix}`;
    const gateway = g.gw === '0.0.0.0' || g.gw === '-' ? null : g.gw!;
    const noDevice = g.iface === '*' || g.iface === '-';
    const type = g.flags!.includes('!') ? 'unreachable' : noDevice && gateway === null ? 'blackhole' : 'unicast';
    const device = noDevice ? null : g.iface!;
    const text = [
      type === 'unicast' ? destination : `${type} ${destination}`,
      gateway ? `via ${gateway}` : '',
      device ? `dev ${device}` : '',
      g.metric !== '0' ? `metric ${g.metric}` : '',
    ]
      .filter(Boolean)
      .join(' ');
    routes.push({ raw: text, destination, gateway, device, type });
  }
  return { routes, unparsed };
}
