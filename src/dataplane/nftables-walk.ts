/**
 * Walks kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go) from `nft -j list table ip kube-proxy`, the way
 * its own packet tracer in helpers_test.go does, to the same ServiceWalk as the iptables walk:
 *
 *   nat-prerouting / nat-output → jump services
 *   services: ip daddr . meta l4proto . th dport vmap @service-ips         (ClusterIP, external and LB IPs)
 *             ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports   (NodePorts)
 *   service-<HASH>-ns/svc/proto/port: numgen random mod N vmap { 0 : goto endpoint-…, … }
 *   external-<HASH>-… → goto service-…;  endpoint-<HASH>-…__ip/port: meta l4proto tcp dnat to ip:port
 *   service-endpoints-check / nodeport-endpoints-check: vmap @no-endpoint-services / @no-endpoint-nodeports
 *     → goto reject-chain (reject) or drop
 *
 * Pure. Rules are kept as evidence in `nft`'s own text form (`add rule ip kube-proxy CHAIN …`), map elements as
 * `element MAP { key : verdict }`. NodePorts answer only on the addresses of the nodeport-ips set (kube-proxy's
 * --nodeport-addresses, `primary` by default: the node's own IPs), never on 127.0.0.1; the walk says which.
 */
import type { ServiceEntry, ServiceWalk } from './service-dataplane.ts';

/** One nft JSON expression or statement: an object with a single key (`match`, `vmap`, `goto`, …). */
type Expr = Record<string, unknown>;

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
}

/** kube-proxy's fixed chains, maps and sets (proxier.go constants). */
export const KUBE_PROXY_NFT = {
  table: 'kube-proxy',
  servicesChain: 'services',
  serviceIPsMap: 'service-ips',
  serviceNodePortsMap: 'service-nodeports',
  nodePortIPsSet: 'nodeport-ips',
  noEndpointServicesMap: 'no-endpoint-services',
  noEndpointNodePortsMap: 'no-endpoint-nodeports',
  rejectChain: 'reject-chain',
  markMasqChain: 'mark-for-masquerade',
  natHooks: ['nat-prerouting', 'nat-output'],
} as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function keyParts(key: unknown): string[] {
  if (isObject(key) && 'elem' in key && isObject(key.elem)) return keyParts(key.elem.val);
  if (isObject(key) && Array.isArray(key.concat)) return key.concat.flatMap(keyParts);
  if (isObject(key) && isObject(key.prefix)) return [`${String(key.prefix.addr)}/${String(key.prefix.len)}`];
  if (isObject(key) && Array.isArray(key.range)) return [key.range.map(String).join('-')];
  return [String(key)];
}

function verdictOf(v: unknown): NftElement['verdict'] {
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
  const table: NftTable = { family: '', name: '', chains: new Map(), sets: new Map() };
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
      return o.key === 'mark' ? 'mark' : `meta ${String(o.key)}`;
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
      return `${show(o.left)} ${op}${show(o.right)}`;
    }
    case 'vmap':
    case 'map':
      return `${show(o.key)} ${k} ${show(o.data)}`;
    case 'jump':
    case 'goto':
      return `${k} ${String(o.target)}`;
    case 'dnat':
    case 'snat':
      return `${k} to ${String(o.addr)}${o.port === undefined ? '' : `:${String(o.port)}`}`;
    case 'masquerade':
      return `masquerade${o.flags ? ` ${String(o.flags)}` : ''}`;
    case 'reject':
      return 'reject';
    case 'mangle':
      return `${show(o.key)} set ${show(o.value)}`;
    case 'counter':
      return `counter packets ${String(o.packets)} bytes ${String(o.bytes)}`;
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return k;
    default:
      return JSON.stringify(e);
  }
}

/** A rule as `nft` prints it in a transaction: `add rule ip kube-proxy CHAIN …`. */
export function nftRuleText(rule: NftRule, table = KUBE_PROXY_NFT.table): string {
  return `add rule ${rule.family} ${table} ${rule.chain} ${rule.expr.map(show).join(' ')}${rule.comment ? ` comment "${rule.comment}"` : ''}`;
}

function elementText(map: string, e: NftElement): string {
  const verdict = e.verdict ? ` : ${e.verdict.kind}${e.verdict.target ? ` ${e.verdict.target}` : ''}` : '';
  return `element ${map} { ${e.key.join(' . ')}${e.comment ? ` comment "${e.comment}"` : ''}${verdict} }`;
}

// ---- the walk ----

/** The rule that looks traffic up in `map` (a `vmap @map`), if any chain of `chains` has one. */
function dispatchRule(table: NftTable, chains: readonly string[], map: string): NftRule | null {
  for (const chain of chains) {
    const rule = (table.chains.get(chain) ?? []).find((r) =>
      r.expr.some((e) => isObject(e.vmap) && e.vmap.data === `@${map}`),
    );
    if (rule) return rule;
  }
  return null;
}

/** Where a NodePort dispatch rule answers: the addresses of `ip daddr @nodeport-ips`, or 'local' (`fib daddr type local`). */
function nodePortAddressesOf(table: NftTable, rule: NftRule): string[] | 'local' {
  for (const e of rule.expr) {
    if (!isObject(e.match)) continue;
    const right = e.match.right;
    if (typeof right === 'string' && right.startsWith('@'))
      return (table.sets.get(right.slice(1)) ?? []).map((el) => el.key[0]!).filter(Boolean);
  }
  return 'local';
}

/** Chains kube-proxy creates per Service port and endpoint carry a '/' (proxier.go isServiceChainName). */
const isServiceChain = (name: string) => name.includes('/');

function targetsOf(e: Expr): string[] {
  if (isObject(e.jump) || isObject(e.goto))
    return [String((isObject(e.jump) ? e.jump : (e.goto as Record<string, unknown>)).target)];
  if (isObject(e.vmap) && isObject(e.vmap.data) && Array.isArray(e.vmap.data.set)) {
    return e.vmap.data.set.flatMap((pair) =>
      Array.isArray(pair) && pair.length === 2 ? (verdictOf(pair[1])?.target ?? []) : [],
    );
  }
  return [];
}

const hooked = (table: NftTable) =>
  KUBE_PROXY_NFT.natHooks.some((h) =>
    (table.chains.get(h) ?? []).some((r) => r.expr.some((e) => targetsOf(e).includes(KUBE_PROXY_NFT.servicesChain))),
  );

/** Follows a verdict (and the service / external / endpoint chains it leads to) to DNATs, drops and rejects. */
function follow(
  table: NftTable,
  start: string,
  out: { rules: string[]; dnatTargets: string[]; drops: string[]; rejects: string[] },
): void {
  const queue = [start];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const chain = queue.shift()!;
    if (seen.has(chain)) continue;
    seen.add(chain);
    for (const rule of table.chains.get(chain) ?? []) {
      const text = nftRuleText(rule);
      out.rules.push(text);
      for (const e of rule.expr) {
        if (isObject(e.dnat) && e.dnat.addr !== undefined)
          out.dnatTargets.push(`${String(e.dnat.addr)}${e.dnat.port === undefined ? '' : `:${String(e.dnat.port)}`}`);
        if ('drop' in e) out.drops.push(text);
        if ('reject' in e) out.rejects.push(text);
        for (const t of targetsOf(e)) if (isServiceChain(t) || t === KUBE_PROXY_NFT.rejectChain) queue.push(t);
      }
    }
  }
}

function lookup(table: NftTable, map: string, key: string[]): NftElement | null {
  return (
    (table.sets.get(map) ?? []).find((e) => e.key.length === key.length && e.key.every((k, i) => k === key[i])) ?? null
  );
}

/** `json`: `nft -j list table ip kube-proxy` (or ip6, for an IPv6 ClusterIP). */
export function nftablesWalk(json: string, entry: ServiceEntry): ServiceWalk {
  const table = parseNftTable(json);
  const proto = (entry.protocol ?? 'TCP').toLowerCase();
  const nodePort = 'nodePort' in entry;
  const key = nodePort ? [proto, String(entry.nodePort)] : [entry.clusterIP, proto, String(entry.port)];
  const map = nodePort ? KUBE_PROXY_NFT.serviceNodePortsMap : KUBE_PROXY_NFT.serviceIPsMap;
  const out = { rules: [] as string[], dnatTargets: [] as string[], drops: [] as string[], rejects: [] as string[] };

  const dispatch = dispatchRule(table, [KUBE_PROXY_NFT.servicesChain], map);
  const element = lookup(table, map, key);
  const entryRule = dispatch !== null && element !== null && hooked(table);
  if (dispatch && element) {
    out.rules.push(nftRuleText(dispatch), elementText(map, element));
    if (element.verdict?.target) follow(table, element.verdict.target, out);
  }

  // Services without endpoints: the filter chains look them up in the no-endpoint maps (reject-chain, or drop).
  const noEndpointMap = nodePort ? KUBE_PROXY_NFT.noEndpointNodePortsMap : KUBE_PROXY_NFT.noEndpointServicesMap;
  const checkChains = [...table.chains.keys()].filter((c) => c.endsWith('endpoints-check'));
  const check = dispatchRule(table, checkChains, noEndpointMap);
  const noEndpoint = lookup(table, noEndpointMap, key);
  if (check && noEndpoint) {
    const evidence = [nftRuleText(check), elementText(noEndpointMap, noEndpoint)];
    if (noEndpoint.verdict?.kind === 'drop') out.drops.push(...evidence);
    else if (noEndpoint.verdict?.target === KUBE_PROXY_NFT.rejectChain || noEndpoint.verdict?.kind === 'reject') {
      out.rejects.push(...evidence, ...(table.chains.get(KUBE_PROXY_NFT.rejectChain) ?? []).map((r) => nftRuleText(r)));
    }
  }

  const nodePortDispatch = nodePort
    ? dispatchRule(table, [KUBE_PROXY_NFT.servicesChain], KUBE_PROXY_NFT.serviceNodePortsMap)
    : null;
  return {
    entryRule,
    rules: out.rules,
    dnatTargets: [...new Set(out.dnatTargets)],
    rejects: out.rejects,
    drops: out.drops,
    ...(nodePort ? { nodePortAddresses: nodePortDispatch ? nodePortAddressesOf(table, nodePortDispatch) : [] } : {}),
  };
}

/** NodePorts the service-nodeports map forwards (as KUBE-NODEPORTS in iptables mode: not those that reject). */
export function nodePortsInNft(json: string): number[] {
  const ports = new Set<number>();
  for (const e of parseNftTable(json).sets.get(KUBE_PROXY_NFT.serviceNodePortsMap) ?? [])
    if (/^\d+$/.test(e.key[1] ?? '')) ports.add(Number(e.key[1]));
  return [...ports].sort((a, b) => a - b);
}
