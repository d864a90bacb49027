/**
 * Reads `nft -j list table FAMILY NAME` (libnftables' JSON, schema 1) into chains, rules and set/map elements, and
 * prints rules back in nft's own text form for evidence. Pure; shared by kube-proxy's nftables walk
 * (src/dataplane/nftables-walk.ts) and Felix's nftables dataplane (src/calico/felix-nft.ts).
 */
import { joinHostPort } from '../net/host-port.ts';

/** One nft JSON expression or statement: an object with a single key (`match`, `vmap`, `goto`, …). */
export type Expr = Record<string, unknown>;

export interface NftRule {
  family: string;
  chain: string;
  expr: Expr[];
  comment?: string;
}

/** A map or set element: its key parts (concatenations flattened) and, for maps, the verdict. */
export interface NftElement {
  key: string[];
  verdict: { kind: string; target?: string } | null;
  comment?: string;
}

export interface NftTable {
  family: string;
  name: string;
  chains: Map<string, NftRule[]>;
  /** Named sets and maps by name (nft keeps them in one namespace per table). */
  sets: Map<string, NftElement[]>;
  /** Base chains' policies (`policy accept` / `policy drop`), by chain name; regular chains have none. */
  policies: Map<string, string>;
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function keyParts(key: unknown): string[] {
  if (isObject(key) && 'elem' in key && isObject(key.elem)) return keyParts(key.elem.val);
  if (isObject(key) && Array.isArray(key.concat)) return key.concat.flatMap(keyParts);
  if (isObject(key) && isObject(key.prefix)) return [`${String(key.prefix.addr)}/${String(key.prefix.len)}`];
  if (isObject(key) && Array.isArray(key.range)) return [key.range.map(String).join('-')];
  return [String(key)];
}

export function verdictOf(v: unknown): NftElement['verdict'] {
  if (!isObject(v)) return null;
  const [kind] = Object.keys(v);
  if (kind === undefined) return null;
  const body = v[kind];
  return isObject(body) && typeof body.target === 'string' ? { kind, target: body.target } : { kind };
}

function elementOf(raw: unknown): NftElement {
  if (Array.isArray(raw) && raw.length === 2) {
    const [key, value] = raw as [unknown, unknown];
    const comment =
      isObject(key) && isObject(key.elem) && typeof key.elem.comment === 'string' ? key.elem.comment : undefined;
    return { key: keyParts(key), verdict: verdictOf(value), ...(comment === undefined ? {} : { comment }) };
  }
  const comment =
    isObject(raw) && isObject(raw.elem) && typeof raw.elem.comment === 'string' ? raw.elem.comment : undefined;
  return { key: keyParts(raw), verdict: null, ...(comment === undefined ? {} : { comment }) };
}

/**
 * `nft -j list table …` output into chains, rules and set/map elements. Empty text (a table that is not there, an
 * IP family the node does not use) is an empty table.
 */
export function parseNftTable(json: string): NftTable {
  const table: NftTable = { family: '', name: '', chains: new Map(), sets: new Map(), policies: new Map() };
  if (json.trim() === '') return table;
  const doc = JSON.parse(json) as { nftables?: unknown[] };
  for (const item of doc.nftables ?? []) {
    if (!isObject(item)) continue;
    if (isObject(item.table)) {
      table.family = String(item.table.family);
      table.name = String(item.table.name);
    } else if (isObject(item.chain)) {
      const name = String(item.chain.name);
      if (!table.chains.has(name)) table.chains.set(name, []);
      if (typeof item.chain.policy === 'string') table.policies.set(name, item.chain.policy);
    } else if (isObject(item.rule)) {
      const r = item.rule;
      const rule: NftRule = {
        family: String(r.family),
        chain: String(r.chain),
        expr: Array.isArray(r.expr) ? (r.expr as Expr[]) : [],
        ...(typeof r.comment === 'string' ? { comment: r.comment } : {}),
      };
      const list = table.chains.get(rule.chain) ?? [];
      list.push(rule);
      table.chains.set(rule.chain, list);
    } else if (isObject(item.set) || isObject(item.map)) {
      const s = (isObject(item.set) ? item.set : item.map) as Record<string, unknown>;
      const elems = Array.isArray(s.elem) ? s.elem : s.elem === undefined ? [] : [s.elem];
      table.sets.set(String(s.name), elems.map(elementOf));
    }
  }
  return table;
}

// ---- nft's text form, for evidence ----

/** Meta keys nft prints without `meta` (nftables src/meta.c, meta_key_is_unqualified). */
const UNQUALIFIED_META = new Set(['mark', 'iif', 'oif', 'iifname', 'oifname', 'iifgroup', 'oifgroup']);

function show(e: unknown): string {
  if (typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean') return String(e);
  if (Array.isArray(e)) return `{ ${e.map(show).join(', ')} }`;
  if (!isObject(e)) return JSON.stringify(e);
  const [k] = Object.keys(e);
  const v = e[k!];
  const o = isObject(v) ? v : {};
  switch (k) {
    case 'payload':
      return `${String(o.protocol)} ${String(o.field)}`;
    case 'meta':
      // nft leaves `meta` off the keys it can tell without it (`oifname "cali*"`, `mark`).
      return UNQUALIFIED_META.has(String(o.key)) ? String(o.key) : `meta ${String(o.key)}`;
    case 'ct':
      return `ct ${String(o.key)}`;
    case 'fib':
      return `fib ${(Array.isArray(o.flags) ? o.flags : [o.flags]).map(String).join(' . ')} ${String(o.result)}`;
    case 'concat':
      return (v as unknown[]).map(show).join(' . ');
    case 'prefix':
      return `${String(o.addr)}/${String(o.len)}`;
    case 'range':
      return (v as unknown[]).map(show).join('-');
    case 'set':
      return Array.isArray(v)
        ? `{ ${v.map((x) => (Array.isArray(x) && x.length === 2 ? `${show(x[0])} : ${show(x[1])}` : show(x))).join(', ')} }`
        : `{ ${show(v)} }`;
    case 'elem':
      return `${show(o.val)}${typeof o.comment === 'string' ? ` comment "${o.comment}"` : ''}`;
    case '&':
    case '|':
    case '^': {
      const [a, b] = v as unknown[];
      return `${show(a)} ${k === '&' ? 'and' : k === '|' ? 'or' : 'xor'} ${typeof b === 'number' ? `0x${b.toString(16)}` : show(b)}`;
    }
    case 'numgen':
      return `numgen ${String(o.mode)} mod ${String(o.mod)}${o.offset ? ` offset ${String(o.offset)}` : ''}`;
    case 'match': {
      // nft leaves out `==` after a plain selector (`ip daddr 10.0.0.1`) but keeps it after a bitwise expression.
      const bitwise = isObject(o.left) && ['&', '|', '^'].some((b) => b in (o.left as Record<string, unknown>));
      const op = (o.op === '==' && !bitwise) || o.op === 'in' ? '' : `${String(o.op)} `;
      // Interface names are strings in nft's grammar, printed quoted.
      const named =
        isObject(o.left) &&
        isObject(o.left.meta) &&
        typeof o.right === 'string' &&
        /ifname$/.test(String(o.left.meta.key));
      return `${show(o.left)} ${op}${named ? `"${String(o.right)}"` : show(o.right)}`;
    }
    case 'vmap':
    case 'map':
      return `${show(o.key)} ${k} ${show(o.data)}`;
    case 'jump':
    case 'goto':
      return `${k} ${String(o.target)}`;
    case 'dnat':
    case 'snat':
      // nft writes an IPv6 address with a port in brackets: dnat to [fd00::5]:80.
      return `${k} to ${o.port === undefined ? String(o.addr) : joinHostPort(String(o.addr), String(o.port))}`;
    case 'masquerade':
      return `masquerade${o.flags ? ` ${String(o.flags)}` : ''}`;
    case 'reject':
      return 'reject';
    case 'mangle':
      return `${show(o.key)} set ${show(o.value)}`;
    case 'counter':
      return o.packets === undefined ? 'counter' : `counter packets ${String(o.packets)} bytes ${String(o.bytes)}`;
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return k;
    default:
      return JSON.stringify(e);
  }
}

/** A rule as `nft` prints it in a transaction: `add rule FAMILY TABLE CHAIN …`. */
export function nftRuleText(rule: NftRule, table: string): string {
  return `add rule ${rule.family} ${table} ${rule.chain} ${rule.expr.map(show).join(' ')}${rule.comment ? ` comment "${rule.comment}"` : ''}`;
}
