/**
 * Which route the kernel picks for a destination, as `ip route get` would: the routing policy rules in priority order
 * (`ip rule`; without them, only the main table), and in each table the longest prefix of the destination's family.
 * Pure. A rule that needs more than the destination to decide (fwmark, iif …) is passed over: k8snet judges the plain
 * path of a connection between pods.
 */
import type { RouteLine } from '../parse/ip-json.ts';
import type { RouteRule } from '../parse/ip-rule.ts';
import { ipFamilyOf, parseRange, rangeContains } from '../net/ip-range.ts';

function tableOf(r: RouteLine): string {
  return r.table ?? 'main';
}

/** Longest-prefix match within one table, for the destination's family; `throw` routes send the lookup on. */
function inTable(routes: readonly RouteLine[], table: string, ip: string): RouteLine | null {
  const family = ipFamilyOf(ip);
  if (family === null) return null;
  let best: RouteLine | null = null;
  let bestPrefix = -1;
  for (const r of routes) {
    if (tableOf(r) !== table) continue;
    // `ip route` prints an IPv6 default as `default` too; the table being read is one family's.
    const range = parseRange(r.destination, family);
    if (range === null || range.family !== family) continue;
    if (range.prefix > bestPrefix && rangeContains(range, ip)) {
      best = r;
      bestPrefix = range.prefix;
    }
  }
  return best;
}

function selects(rule: RouteRule, ip: string, from: string | null): boolean {
  if (rule.conditional.length > 0) return false;
  const matchTo = rule.to === null || (parseRange(rule.to) !== null && rangeContains(parseRange(rule.to)!, ip));
  // A source selector needs a known source; packets of the main path are judged from `from` when it is given.
  const matchFrom =
    rule.from === null ||
    (from !== null && parseRange(rule.from) !== null && rangeContains(parseRange(rule.from)!, from));
  const match = matchTo && matchFrom;
  return rule.not ? !match : match;
}

export interface LookupOptions {
  /** `ip rule` of the node; null or absent: the main table only. */
  rules?: readonly RouteRule[] | null;
  /** The packet's source (a pod IP), for `from` rules; unknown: `from PREFIX` rules are passed over. */
  from?: string | null;
}

/** The route for `ip`, or null when no table a rule sends to has one (the `local` table is skipped: pods are not local). */
export function lookupRoute(routes: readonly RouteLine[], ip: string, options: LookupOptions = {}): RouteLine | null {
  const rules = options.rules ?? null;
  if (rules === null || rules.length === 0) return inTable(routes, 'main', ip);
  for (const rule of [...rules].sort((a, b) => a.priority - b.priority)) {
    if (!selects(rule, ip, options.from ?? null)) continue;
    if (rule.action !== 'lookup' || rule.table === null || rule.table === 'local') continue;
    const found = inTable(routes, rule.table, ip);
    if (found && found.type === 'throw') continue;
    if (found) return found;
  }
  return null;
}
