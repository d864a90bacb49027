/**
 * `routes NODE`: the node's route table with each route labelled — a local pod via its cali interface, a remote
 * pod block via the VXLAN or IP-in-IP tunnel or straight via another node, Calico's blackhole for its own block,
 * the host network, the default route — and which node owns each remote block.
 */
import type { IpPoolInfo, NodeInfo } from '../cluster/types.ts';
import { cidrContains, cidrsOverlap, parseIpv4Cidr } from '../net/ipv4.ts';
import { K8snetError } from '../errors.ts';
import { headlineFor, sortFindings, type Finding } from '../model/report.ts';
import { nodeTarget, type OperationDeps } from './deps.ts';
import { inspectNode } from './node-facts.ts';
import type { RouteLine } from './trace-facts.ts';
import type { OperationContext, OperationOutcome } from './types.ts';

export type RouteLabel = 'local-pod' | 'remote-block-vxlan' | 'remote-block-ipip' | 'remote-block-direct' | 'blackhole-local-block' | 'pod-network-other' | 'host-network' | 'default' | 'other';

export const ROUTE_LABEL_TEXT: Record<RouteLabel, string> = {
  'local-pod': 'local pod (cali)',
  'remote-block-vxlan': 'remote pod block via VXLAN',
  'remote-block-ipip': 'remote pod block via IP-in-IP',
  'remote-block-direct': 'remote pod block, no encapsulation',
  'blackhole-local-block': "this node's own block (blackhole)",
  'pod-network-other': 'pod network, unusual route',
  'host-network': 'host network',
  default: 'default route',
  other: 'other',
};

function inPool(pools: readonly IpPoolInfo[], destination: string): boolean {
  const dest = destination.includes('/') ? destination : `${destination}/32`;
  if (dest.includes(':')) return false;
  try {
    const d = parseIpv4Cidr(dest);
    return pools.some((p) => !p.cidr.includes(':') && cidrsOverlap(parseIpv4Cidr(p.cidr), d));
  } catch {
    return false;
  }
}

/** Pure: the label of one route given the cluster's pools. */
export function labelRoute(r: RouteLine, pools: readonly IpPoolInfo[]): RouteLabel {
  if (r.destination === 'default' || r.destination === '0.0.0.0/0') return 'default';
  const pod = inPool(pools, r.destination);
  if (!pod) return r.type === 'unicast' ? 'host-network' : 'other';
  if (r.type === 'blackhole') return 'blackhole-local-block';
  if (r.device?.startsWith('cali')) return 'local-pod';
  if (r.device === 'vxlan.calico' || r.device === 'vxlan-v6.calico') return 'remote-block-vxlan';
  if (r.device === 'tunl0') return 'remote-block-ipip';
  if (r.gateway) return 'remote-block-direct';
  return 'pod-network-other';
}

/** Which node owns a block: spec.podCIDRs, or the node whose Calico tunnel address is the route's gateway. */
export function blockOwner(r: RouteLine, nodes: readonly NodeInfo[]): string | null {
  const byTunnel = nodes.find((n) => r.gateway !== null && (n.vxlanTunnelIP === r.gateway || n.ipipTunnelIP === r.gateway || n.internalIP === r.gateway));
  if (byTunnel) return byTunnel.name;
  const first = r.destination.split('/')[0]!;
  return nodes.find((n) => n.podCIDRs.some((c) => !c.includes(':') && cidrContains(parseIpv4Cidr(c), first)))?.name ?? null;
}

export interface RoutesResult {
  node: string;
  routes: { route: string; label: RouteLabel; description: string; owner: string | null }[];
  findings: Finding[];
}

export async function runRoutes(deps: OperationDeps, cmd: { node: string }, ctx: OperationContext): Promise<OperationOutcome<RoutesResult>> {
  ctx.onStep(`reading node ${cmd.node}`);
  const [node, nodes, pools] = await Promise.all([deps.cluster.getNode(cmd.node), deps.cluster.listNodes(), deps.cluster.listIpPools()]);
  const target = nodeTarget(deps, node);
  ctx.onStep(`reading ${target.name}'s route table`);
  const facts = await inspectNode(deps.shell, target, ctx.signal);
  if (facts.error || !facts.routes) throw new K8snetError('ssh_connect', `could not read ${target.name}'s routes: ${facts.error}`, { retryable: true });
  const routes = facts.routes.map((r) => {
    const label = labelRoute(r, pools);
    return { route: r.raw, label, description: ROUTE_LABEL_TEXT[label], owner: label.startsWith('remote-block') ? blockOwner(r, nodes) : null };
  });
  const findings: Finding[] = [];
  const others = nodes.filter((n) => n.name !== node.name);
  for (const other of others) {
    for (const block of other.podCIDRs.filter((c) => !c.includes(':'))) {
      const covered = facts.routes.some((r) => labelRoute(r, pools).startsWith('remote-block') && r.destination === block);
      if (!covered) findings.push({ severity: 'warning', code: 'route_to_block_missing', message: `no route for ${other.name}'s pod CIDR ${block} on ${target.name}`, evidence: `spec.podCIDRs of ${other.name}: ${other.podCIDRs.join(', ')}` });
    }
  }
  const sorted = sortFindings(findings);
  return {
    result: { node: target.name, routes, findings: sorted },
    report: {
      title: `routes ${target.name}`,
      headline: headlineFor(sorted),
      findings: sorted,
      sections: [
        { kind: 'table', title: `${target.name}: ip route, labelled`, columns: ['ROUTE', 'WHAT', 'NODE'], rows: routes.map((r) => [r.route, r.description, r.owner ?? '']) },
      ],
      attachments: [],
    },
  };
}
