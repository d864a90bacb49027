/**
 * The routing policy database: `ip rule` ("100:\tfrom fd00:10:244::/56 lookup 100") and `ip -j rule` → rules in
 * priority order. Pure; lines it cannot read are kept in `unparsed`.
 */
import { parseJsonOrNull } from './runtime-sandbox.ts';

export interface RouteRule {
  priority: number;
  /** Source prefix, null for `all`. */
  from: string | null;
  /** Destination prefix, null when the rule does not match on it. */
  to: string | null;
  /** `not` before the selector. */
  not: boolean;
  /** Selectors k8snet cannot judge from a destination alone (fwmark, iif, oif, uidrange, ipproto, dport …): the rule may or may not apply. */
  conditional: string[];
  /** The table looked up (`main`, `local`, `100`), or null for a rule with another action. */
  table: string | null;
  /** `lookup`, or `unreachable` / `prohibit` / `blackhole` / `goto` / `nop`. */
  action: string;
  raw: string;
}

export interface ParsedRules {
  rules: RouteRule[];
  unparsed: string[];
}

const RULE = /^(?<prio>\d+):\s+(?<rest>.*)$/;
const CONDITIONAL = [
  'fwmark',
  'iif',
  'oif',
  'uidrange',
  'ipproto',
  'sport',
  'dport',
  'tos',
  'dsfield',
  'l3mdev',
  'tun_id',
  'suppress_prefixlength',
  'suppress_ifgroup',
  'realms',
];
/** rt_tables' reserved names, as ip -j prints their numbers. */
const TABLE_NAMES: Record<string, string> = { '255': 'local', '254': 'main', '253': 'default' };

/** A table as iproute2 prints it named (`main`), whatever the spelling (`254`). */
export function tableName(table: string): string {
  return TABLE_NAMES[table] ?? table;
}

function fromText(line: string): RouteRule | null {
  const m = RULE.exec(line.trim());
  if (!m?.groups) return null;
  const words = m.groups.rest!.trim().split(/\s+/);
  const rule: RouteRule = {
    priority: Number(m.groups.prio),
    from: null,
    to: null,
    not: false,
    conditional: [],
    table: null,
    action: 'lookup',
    raw: line.trim().replace(/\s+/g, ' '),
  };
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    if (w === 'not') rule.not = true;
    else if (['unreachable', 'prohibit', 'blackhole', 'nop'].includes(w)) rule.action = w;
    else if (next === undefined) continue;
    else if (w === 'from') rule.from = next === 'all' ? null : next;
    else if (w === 'to') rule.to = next === 'all' ? null : next;
    else if (w === 'lookup' || w === 'table') rule.table = tableName(next);
    else if (w === 'goto') rule.action = 'goto';
    else if (CONDITIONAL.includes(w)) rule.conditional.push(`${w} ${next}`);
    else continue;
    // Every keyword above but the bare actions takes the next word as its value.
    if (!['not', 'unreachable', 'prohibit', 'blackhole', 'nop'].includes(w)) i++;
  }
  if (rule.table === null && rule.action === 'lookup') rule.action = 'nop';
  return rule;
}

interface IpJsonRule {
  priority?: number;
  not?: null | boolean;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  table?: string;
  action?: string;
  fwmark?: string;
  iif?: string;
  oif?: string;
  [other: string]: unknown;
}

function prefix(addr: string | undefined, len: number | undefined): string | null {
  if (addr === undefined || addr === 'all') return null;
  return len === undefined ? addr : `${addr}/${len}`;
}

export function parseIpRule(text: string): ParsedRules {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    const json = (parseJsonOrNull(trimmed) as IpJsonRule[] | null) ?? null;
    if (json) {
      const rules = json.map((r): RouteRule => {
        const from = prefix(r.src, r.srclen);
        const to = prefix(r.dst, r.dstlen);
        const table = r.table === undefined ? null : tableName(r.table);
        // ip -j prints fwmark's mask apart (`"fwmark":"0x100000","fwmask":"0x100000"`); text joins them with '/'.
        const conditional = CONDITIONAL.filter((k) => r[k] !== undefined).map((k) =>
          k === 'fwmark' && r.fwmask !== undefined
            ? `fwmark ${String(r[k])}/${String(r.fwmask)}`
            : `${k} ${String(r[k])}`,
        );
        const action =
          r.action && r.action !== 'unicast' && r.action !== 'to_tbl' ? r.action : table ? 'lookup' : 'nop';
        const raw = `${r.priority ?? 0}: ${r.not ? 'not ' : ''}from ${from ?? 'all'}${to ? ` to ${to}` : ''}${conditional.map((c) => ` ${c}`).join('')}${table ? ` lookup ${table}` : ` ${action}`}`;
        return {
          priority: r.priority ?? 0,
          from,
          to,
          not: r.not === true || r.not === null,
          conditional,
          table,
          action,
          raw,
        };
      });
      return { rules: rules.sort((a, b) => a.priority - b.priority), unparsed: [] };
    }
  }
  const rules: RouteRule[] = [];
  const unparsed: string[] = [];
  for (const line of text.replace(/\r/g, '').split('\n')) {
    if (!line.trim()) continue;
    const rule = fromText(line);
    if (rule) rules.push(rule);
    else unparsed.push(line);
  }
  return { rules: rules.sort((a, b) => a.priority - b.priority), unparsed };
}
