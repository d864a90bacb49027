/**
 * Felix's nftables dataplane (Calico 3.31+ `bpfEnabled: false, nftablesMode: Enabled`) read as the iptables tables
 * the rest of k8snet already walks. Felix keeps every logical table in one nftables table, `ip calico` (and `ip6
 * calico`), naming each chain with its layer (felix/nftables/table_layer.go: `filter-cali-tw-cali123`,
 * `filter-FORWARD`, `raw-cali-PREROUTING`), renders the same rules it would give iptables with a counter on each
 * (renderer.go), writes the rule id and comments as one comment (`cali:<id>; Drop if no policies passed packet`),
 * and dispatches workloads with verdict maps (`oifname vmap @filter-cali-to-wl-dispatch`, rules/dispatch.go) instead
 * of a tree of `-o cali…` rules.
 *
 * So: each layer becomes a table of the same name, each chain loses its layer prefix, each rule becomes an
 * IptablesRule with its matches (interfaces, protocol and ports, marks, conntrack state, addresses), its verdict as
 * the target, its counter, and the nft text as `raw`; each element of a dispatch map becomes one `-i/-o iface -g
 * chain` rule. Felix's chain walk (felix-chains.ts) and the drop counters (parse/iptables-counters.ts) then read an
 * nftables node exactly as an iptables one. Pure.
 */
import {
  emptyMatches,
  type AddressMatch,
  type IptablesChain,
  type IptablesRule,
  type IptablesSave,
  type MarkMatch,
  type RuleMatches,
  type RuleTarget,
} from '../parse/iptables-save.ts';
import { isObject, nftRuleText, type Expr, type NftRule, type NftTable } from '../parse/nft-json.ts';

/** The table Felix programs in nftables mode (felix/nftables/table.go), one per IP family. */
export const FELIX_NFT_TABLE = 'calico';
/** The logical tables Felix layers into it, as chain-name prefixes. */
export const FELIX_NFT_LAYERS = ['filter', 'nat', 'mangle', 'raw'] as const;

const MARK_BITS = 0xffffffff;

function layerOf(chain: string): { table: string; chain: string } | null {
  for (const layer of FELIX_NFT_LAYERS)
    if (chain.startsWith(`${layer}-`)) return { table: layer, chain: chain.slice(layer.length + 1) };
  return null;
}

/** A jump target inside the table, without its layer prefix (`filter-cali-tw-x` → `cali-tw-x`). */
const unlayered = (target: string): string => layerOf(target)?.chain ?? target;

/** `cali:<id>; rest` → [`cali:<id>`, `rest`]: the id the counter diff keys on, and the comments Felix adds. */
export function felixNftComments(comment: string | undefined): string[] {
  if (!comment) return [];
  const m = /^(?<id>cali:[A-Za-z0-9_-]+);\s*(?<rest>.*)$/.exec(comment);
  if (!m?.groups) return [comment];
  return m.groups.rest ? [m.groups.id!, m.groups.rest] : [m.groups.id!];
}

/** nft's `cali*` wildcard is iptables' `cali+`, which the chain walk understands. */
const ifaceName = (v: string) => (v.endsWith('*') ? `${v.slice(0, -1)}+` : v);

function valueText(v: unknown): string | null {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (isObject(v) && isObject(v.prefix)) return `${String(v.prefix.addr)}/${String(v.prefix.len)}`;
  if (isObject(v) && Array.isArray(v.range)) return v.range.map(String).join(':');
  if (isObject(v) && Array.isArray(v.set)) {
    const parts = v.set.map(valueText);
    return parts.every((p) => p !== null) ? parts.join(',') : null;
  }
  return null;
}

/** One `match` statement into the iptables-shaped matches it stands for; what has no iptables twin is left out. */
function addMatch(m: RuleMatches, match: Record<string, unknown>): void {
  const negated = match.op === '!=';
  const left = match.left;
  const right = match.right;
  const address = (value: string): AddressMatch => ({ value, negated });
  if (isObject(left) && isObject(left.meta)) {
    const key = left.meta.key;
    if ((key === 'iifname' || key === 'oifname') && typeof right === 'string') {
      m[key === 'iifname' ? 'inInterface' : 'outInterface'] = address(ifaceName(right));
    } else if (key === 'l4proto' && typeof right === 'string') {
      m.protocol = address(right);
    }
    return;
  }
  if (isObject(left) && isObject(left.payload)) {
    const { protocol, field } = left.payload;
    // `ip saddr @cali40all-vxlan-net`: a named set, as iptables' `-m set --match-set NAME src`.
    if (typeof right === 'string' && right.startsWith('@') && (field === 'saddr' || field === 'daddr')) {
      m.sets.push({ name: right.slice(1), flags: field === 'saddr' ? 'src' : 'dst', negated });
      return;
    }
    const text = valueText(right);
    if (text === null) return;
    if ((protocol === 'ip' || protocol === 'ip6') && field === 'saddr') m.source = address(text);
    else if ((protocol === 'ip' || protocol === 'ip6') && field === 'daddr') m.destination = address(text);
    else if ((protocol === 'ip' && field === 'protocol') || (protocol === 'ip6' && field === 'nexthdr'))
      m.protocol = address(text);
    else if (field === 'dport' || field === 'sport') {
      if (typeof protocol === 'string' && protocol !== 'th') m.protocol ??= { value: protocol, negated: false };
      m[field] = address(text);
    }
    return;
  }
  if (isObject(left) && isObject(left.ct) && left.ct.key === 'state') {
    const states = (Array.isArray(right) ? right : [right]).map((s) => String(s).toUpperCase());
    m.ctstate = { states, negated };
    return;
  }
  // `meta mark & MASK == VALUE`: Felix's mark tests (the accept, pass and scratch bits).
  const and = isObject(left) ? left['&'] : undefined;
  if (Array.isArray(and) && isObject(and[0]) && isObject(and[0].meta) && and[0].meta.key === 'mark') {
    const mark: MarkMatch = { value: Number(right), mask: Number(and[1]) >>> 0, negated };
    if (Number.isFinite(mark.value)) m.marks.push(mark);
  }
}

/** `meta mark set …` as iptables' `--set-xmark VALUE/MASK` (the bits it sets to VALUE). */
function setMarkOf(mangle: Record<string, unknown>): { value: number; mask: number } | null {
  if (!isObject(mangle.key) || !isObject(mangle.key.meta) || mangle.key.meta.key !== 'mark') return null;
  const v = mangle.value;
  if (typeof v === 'number') return { value: v >>> 0, mask: MARK_BITS };
  if (!isObject(v)) return null;
  const isMark = (x: unknown) => isObject(x) && isObject(x.meta) && x.meta.key === 'mark';
  const [op] = Object.keys(v);
  const args = v[op!] as unknown[];
  if (!Array.isArray(args) || args.length !== 2) return null;
  // mark & KEEP: clears the bits outside KEEP.
  if (op === '&' && isMark(args[0])) return { value: 0, mask: ~Number(args[1]) >>> 0 };
  // mark | SET: sets SET's bits.
  if (op === '|' && isMark(args[0])) return { value: Number(args[1]) >>> 0, mask: Number(args[1]) >>> 0 };
  // (mark & KEEP) ^ SET: the bits outside KEEP become SET.
  if (op === '^' && isObject(args[0]) && Array.isArray(args[0]['&']) && isMark((args[0]['&'] as unknown[])[0])) {
    const keep = Number((args[0]['&'] as unknown[])[1]);
    return { value: Number(args[1]) >>> 0, mask: ~keep >>> 0 };
  }
  return null;
}

const VERDICTS: Record<string, string> = { accept: 'ACCEPT', drop: 'DROP', reject: 'REJECT', return: 'RETURN' };

function targetOf(expr: readonly Expr[]): RuleTarget | null {
  for (const e of expr) {
    const [kind] = Object.keys(e);
    if (kind === undefined) continue;
    const body = e[kind];
    const base = { args: [] as string[], toDestination: null, setMark: null };
    if (kind in VERDICTS) return { kind: 'jump', name: VERDICTS[kind]!, ...base };
    if ((kind === 'jump' || kind === 'goto') && isObject(body) && typeof body.target === 'string')
      return { kind: kind === 'jump' ? 'jump' : 'goto', name: unlayered(body.target), ...base };
    if (kind === 'mangle' && isObject(body)) {
      const setMark = setMarkOf(body);
      if (setMark) return { kind: 'jump', name: 'MARK', ...base, setMark };
    }
    if (kind === 'dnat' && isObject(body))
      return {
        kind: 'jump',
        name: 'DNAT',
        ...base,
        toDestination: `${String(body.addr)}${body.port === undefined ? '' : `:${String(body.port)}`}`,
      };
    if (kind === 'masquerade') return { kind: 'jump', name: 'MASQUERADE', ...base };
    if (kind === 'log') return { kind: 'jump', name: 'LOG', ...base };
  }
  return null;
}

function counterOf(expr: readonly Expr[]): { packets: number; bytes: number } | null {
  for (const e of expr)
    if (isObject(e.counter)) return { packets: Number(e.counter.packets ?? 0), bytes: Number(e.counter.bytes ?? 0) };
  return null;
}

/** A dispatch map rule (`oifname vmap @filter-cali-to-wl-dispatch`): its key and the map, or null. */
function vmapDispatch(rule: NftRule): { key: 'iifname' | 'oifname'; map: string } | null {
  for (const e of rule.expr) {
    if (!isObject(e.vmap) || typeof e.vmap.data !== 'string' || !e.vmap.data.startsWith('@')) continue;
    const k = isObject(e.vmap.key) && isObject(e.vmap.key.meta) ? e.vmap.key.meta.key : null;
    if (k === 'iifname' || k === 'oifname') return { key: k, map: e.vmap.data.slice(1) };
  }
  return null;
}

function convertRules(nft: NftTable, rule: NftRule, table: string, chain: string, start: number): IptablesRule[] {
  // The text without the counter's values: the counter diff pairs a rule's reads by their text.
  const uncounted = { ...rule, expr: rule.expr.map((e) => (isObject(e.counter) ? { counter: {} } : e)) };
  const raw = nftRuleText(uncounted, nft.name || FELIX_NFT_TABLE);
  const dispatch = vmapDispatch(rule);
  if (dispatch) {
    // One rule per interface in the map, as Felix's iptables dispatch writes `-o cali123 -g cali-tw-cali123`.
    return (nft.sets.get(dispatch.map) ?? []).flatMap((el, i) => {
      const target = el.verdict?.target;
      if (!target || el.key[0] === undefined) return [];
      const matches = emptyMatches();
      matches[dispatch.key === 'iifname' ? 'inInterface' : 'outInterface'] = { value: el.key[0], negated: false };
      matches.comments = felixNftComments(rule.comment);
      const kind: RuleTarget['kind'] = el.verdict!.kind === 'jump' ? 'jump' : 'goto';
      return [
        {
          table,
          chain,
          position: start + i,
          raw: `element ${dispatch.map} { ${el.key[0]} : ${el.verdict!.kind} ${target} }`,
          args: [],
          matches,
          target: { kind, name: unlayered(target), args: [], toDestination: null, setMark: null },
          packets: null,
          bytes: null,
        },
      ];
    });
  }
  const matches = emptyMatches();
  for (const e of rule.expr) if (isObject(e.match)) addMatch(matches, e.match);
  matches.comments = felixNftComments(rule.comment);
  const counter = counterOf(rule.expr);
  return [
    {
      table,
      chain,
      position: start,
      raw,
      args: [],
      matches,
      target: targetOf(rule.expr),
      packets: counter?.packets ?? null,
      bytes: counter?.bytes ?? null,
    },
  ];
}

/** Felix's `ip calico` / `ip6 calico` table as parsed nft JSON, into iptables-shaped tables by layer. */
export function felixNftTables(nft: NftTable): IptablesSave {
  const save: IptablesSave = { tables: new Map(), unparsed: [], withCounters: false };
  for (const [name, rules] of nft.chains) {
    const where = layerOf(name);
    // Felix's own chains all carry a layer; anything else in the table is not Felix's to read.
    if (!where) continue;
    const table = save.tables.get(where.table) ?? { name: where.table, chains: new Map<string, IptablesChain>() };
    save.tables.set(where.table, table);
    const policy = nft.policies.get(name);
    const chain: IptablesChain = {
      name: where.chain,
      policy: policy === undefined ? null : policy.toUpperCase(),
      policyCounters: null,
      rules: [],
    };
    for (const rule of rules)
      chain.rules.push(...convertRules(nft, rule, where.table, where.chain, chain.rules.length));
    if (chain.rules.some((r) => r.packets !== null)) save.withCounters = true;
    table.chains.set(where.chain, chain);
  }
  return save;
}

/**
 * The members of the table's plain sets (not maps), by name: what `ipset list` shows of Felix's ipsets in iptables
 * mode (cali40all-vxlan-net …), here kept in the table itself. Addresses, networks (`10.0.0.0/8`) or ranges.
 */
export function felixNftSets(nft: NftTable): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, elements] of nft.sets)
    if (elements.every((e) => e.verdict === null))
      out.set(
        name,
        elements.map((e) => e.key.join(',')),
      );
  return out;
}

/**
 * One node's iptables-save with Felix's nftables chains laid over it: on a node in nftables mode iptables holds
 * kube-proxy's (or nothing of Calico), and Felix's chains come from the `calico` table; where a chain is in both
 * (a leftover of the mode switch), the nftables one is what Felix programs now.
 */
export function withFelixNft(save: IptablesSave, felix: IptablesSave): IptablesSave {
  if (felix.tables.size === 0) return save;
  const tables = new Map(save.tables);
  for (const [name, t] of felix.tables) {
    const chains = new Map(tables.get(name)?.chains ?? []);
    for (const [c, chain] of t.chains) chains.set(c, chain);
    tables.set(name, { name, chains });
  }
  return { tables, unparsed: save.unparsed, withCounters: save.withCounters || felix.withCounters };
}
