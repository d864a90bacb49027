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
import { joinHostPort } from '../net/host-port.ts';
import type { ServiceEntry, ServiceWalk } from './service-dataplane.ts';

import {
  isObject,
  nftRuleText as nftRuleTextIn,
  parseNftTable,
  verdictOf,
  type Expr,
  type NftElement,
  type NftRule,
  type NftTable,
} from '../parse/nft-json.ts';

export { parseNftTable, type NftElement, type NftRule, type NftTable };

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

/** A kube-proxy rule as `nft` prints it in a transaction: `add rule ip kube-proxy CHAIN …`. */
export function nftRuleText(rule: NftRule, table: string = KUBE_PROXY_NFT.table): string {
  return nftRuleTextIn(rule, table);
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
          // As iptables' --to-destination spells it: [fd00::5]:80 for IPv6 (the endpoints are compared that way).
          out.dnatTargets.push(
            e.dnat.port === undefined ? String(e.dnat.addr) : joinHostPort(String(e.dnat.addr), String(e.dnat.port)),
          );
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
