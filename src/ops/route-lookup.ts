/**
 * Which route the kernel picks for a destination, as `ip route get` would: the routing policy rules in priority order
 * (`ip rule`; without them, only the main table), and in each table the longest prefix of the destination's family.
 * Pure. Selectors are judged where the packet is known: `to`, `from` (the source when given), `iif` (the device it
 * arrives on when given; `lo` for the node's own packets) and `fwmark` (the packet's mark when given). A rule whose
 * selectors cannot be judged (oif, uidrange, ipproto, ports, tos …, or a source or device not given) is passed over,
 * and `goto` is not followed: k8snet judges the plain path of a connection between pods.
 */
import type { RouteLine } from '../parse/ip-json.ts';
import type { RouteRule } from '../parse/ip-rule.ts';
import { ipFamilyOf, parseRange, rangeContains } from '../net/ip-range.ts';

function tableOf(r: RouteLine): string {
  return r.table ?? 'main';
}

/** Longest-prefix match within one table, for the destination's family; `throw` routes send the lookup on. */
function inTable(routes: readonly RouteLine[], table: string, ip: string): { route: RouteLine; prefix: number } | null {
  const family = ipFamilyOf(ip);
  if (family === null) return null;
  let best: { route: RouteLine; prefix: number } | null = null;
  for (const r of routes) {
    if (tableOf(r) !== table) continue;
    // `ip route` prints an IPv6 default as `default` too; the table being read is one family's.
    const range = parseRange(r.destination, family);
    if (range === null || range.family !== family) continue;
    if (range.prefix > (best?.prefix ?? -1) && rangeContains(range, ip)) best = { route: r, prefix: range.prefix };
  }
  return best;
}

export interface LookupOptions {
  /** `ip rule` of the node; null or absent: the main table only. */
  rules?: readonly RouteRule[] | null;
  /** The packet's source (a pod IP), for `from` rules; unknown: `from PREFIX` rules are passed over. */
  from?: string | null;
  /** The device the packet arrives on (a pod's cali interface; `lo` for the node's own); unknown: `iif` rules are passed over. */
  iif?: string | null;
  /** The packet's mark at the routing decision; unknown: `fwmark` rules are passed over. */
  fwmark?: number | null;
}

/** The actions that end the lookup with an error instead of a route (`ip rule add … blackhole`). */
export const REFUSING_ACTIONS = ['blackhole', 'unreachable', 'prohibit'] as const;
export type RefusingAction = (typeof REFUSING_ACTIONS)[number];

export interface RouteDecision {
  /** The route chosen; null when none matched or a rule refused the packet. */
  route: RouteLine | null;
  /** The rule that sent the lookup to the route's table, or that refused it; null without rules (main only). */
  rule: RouteRule | null;
  /** The rule's own action stopped the lookup (the packet is dropped with that error). */
  refused: RefusingAction | null;
}

function inPrefix(prefix: string | null, ip: string | null): boolean | null {
  if (prefix === null) return true;
  const range = parseRange(prefix);
  if (ip === null || range === null) return null;
  return rangeContains(range, ip);
}

/** `fwmark 0x100000/0x100000` matches when mark & mask === value (mask 0xffffffff when absent). */
function markMatches(selector: string, mark: number): boolean | null {
  const m = /^(?<value>0x[0-9a-f]+|\d+)(?:\/(?<mask>0x[0-9a-f]+|\d+))?$/i.exec(selector);
  if (!m?.groups) return null;
  const value = Number(m.groups.value);
  const mask = m.groups.mask === undefined ? 0xffffffff : Number(m.groups.mask);
  return (mark & mask) >>> 0 === (value & mask) >>> 0;
}

/** Whether the rule selects the packet: true, false, or null when it depends on what is not known. */
function selects(rule: RouteRule, ip: string, options: LookupOptions): boolean | null {
  const parts: (boolean | null)[] = [inPrefix(rule.to, ip), inPrefix(rule.from, options.from ?? null)];
  for (const c of rule.conditional) {
    const [key, value = ''] = c.split(' ');
    if (key === 'iif') parts.push(options.iif == null ? null : options.iif === value);
    else if (key === 'fwmark') parts.push(options.fwmark == null ? null : markMatches(value, options.fwmark));
    // suppress_prefixlength modifies the lookup's result (see routeDecision), it selects every packet.
    else if (key !== 'suppress_prefixlength') parts.push(null);
  }
  if (parts.includes(false)) return rule.not ? true : false;
  if (parts.includes(null)) return null;
  return !rule.not;
}

function suppressedPrefix(rule: RouteRule): number | null {
  const c = rule.conditional.find((x) => x.startsWith('suppress_prefixlength '));
  return c === undefined ? null : Number(c.split(' ')[1]);
}

/** The kernel's choice for `ip`: the route and the rule that led there, or the rule that refused the packet. */
export function routeDecision(routes: readonly RouteLine[], ip: string, options: LookupOptions = {}): RouteDecision {
  const rules = options.rules ?? null;
  if (rules === null || rules.length === 0)
    return { route: inTable(routes, 'main', ip)?.route ?? null, rule: null, refused: null };
  for (const rule of [...rules].sort((a, b) => a.priority - b.priority)) {
    if (selects(rule, ip, options) !== true) continue;
    if ((REFUSING_ACTIONS as readonly string[]).includes(rule.action))
      return { route: null, rule, refused: rule.action as RefusingAction };
    if (rule.action !== 'lookup' || rule.table === null || rule.table === 'local') continue;
    const found = inTable(routes, rule.table, ip);
    if (!found || found.route.type === 'throw') continue;
    // `lookup main suppress_prefixlength 0` ignores main's default route (WireGuard's wg-quick, Calico's own rules).
    const suppressed = suppressedPrefix(rule);
    if (suppressed !== null && found.prefix <= suppressed) continue;
    return { route: found.route, rule, refused: null };
  }
  return { route: null, rule: null, refused: null };
}

/** The route for `ip`, or null when no table a rule sends to has one (the `local` table is skipped: pods are not local). */
export function lookupRoute(routes: readonly RouteLine[], ip: string, options: LookupOptions = {}): RouteLine | null {
  return routeDecision(routes, ip, options).route;
}

/** The route as evidence: its line, with the rule that chose a table other than main, or the rule that refused it. */
export function decisionEvidence(d: RouteDecision): string | null {
  if (d.refused) return `ip rule: ${d.rule!.raw}`;
  if (!d.route) return null;
  const table = d.route.table ?? 'main';
  if (table === 'main' || d.rule === null) return d.route.raw;
  return `ip rule: ${d.rule.raw}\n${d.route.raw}${d.route.raw.includes(` table ${table}`) ? '' : ` (table ${table})`}`;
}
