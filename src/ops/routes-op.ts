/**
 * `routes NODE`: the node's route table with each route labelled — a local pod via its cali interface, a remote
 * pod block via the VXLAN or IP-in-IP tunnel or straight via another node, Calico's blackhole for its own block,
 * the host network, the default route — and which node owns each remote block.
 */
import { enabledPools } from '../cluster/families.ts';
import type { IpPoolInfo, NodeInfo } from '../cluster/types.ts';
import { cidrHolds, parseRange, rangesOverlap } from '../net/ip-range.ts';
import { calicoOwnBlocks } from './calico-blocks.ts';
import { lookupRoute } from './route-lookup.ts';
import { K8snetError } from '../errors.ts';
import { headlineFor, sortFindings, type Finding } from '../model/report.ts';
import { nodeTarget, type OperationDeps } from './deps.ts';
import { inspectNode, readRoutes } from './node-facts.ts';
import type { RouteLine } from './trace-facts.ts';
import type { OperationContext, OperationOutcome } from './types.ts';
import { bgpAddressesOf, bgpPeerFinding, diagnoseBgp, routedByBgp, type BgpNodeFacts } from './bgp-diagnosis.ts';
import { SESSION_COLUMNS, readBirdProtocols, sessionRow, sessionsJson, type BgpSessionJson } from './bird-read.ts';
import { mapLimit } from './concurrency.ts';
import { NODE_CONCURRENCY } from './service-ops.ts';

export type RouteLabel =
  | 'local-pod'
  | 'remote-block-vxlan'
  | 'remote-block-ipip'
  | 'remote-block-direct'
  | 'blackhole-local-block'
  | 'pod-network-other'
  | 'host-network'
  | 'default'
  | 'other';

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
  const d = parseRange(destination);
  return (
    d !== null &&
    pools.some((p) => {
      const pool = parseRange(p.cidr);
      return pool !== null && rangesOverlap(pool, d);
    })
  );
}

/** Pure: the label of one route given the cluster's pools. */
export function labelRoute(r: RouteLine, pools: readonly IpPoolInfo[]): RouteLabel {
  if (r.destination === 'default' || r.destination === '0.0.0.0/0' || r.destination === '::/0') return 'default';
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
  const byTunnel = nodes.find(
    (n) =>
      r.gateway !== null &&
      (n.vxlanTunnelIP === r.gateway ||
        n.vxlanTunnelIPv6 === r.gateway ||
        n.ipipTunnelIP === r.gateway ||
        n.addresses.some((a) => a.type === 'InternalIP' && a.address === r.gateway) ||
        n.internalIP === r.gateway),
  );
  if (byTunnel) return byTunnel.name;
  const first = r.destination.split('/')[0]!;
  return nodes.find((n) => n.podCIDRs.some((c) => cidrHolds(c, first)))?.name ?? null;
}

/** Who programmed a route, from its `proto`: BIRD (BGP-learned, `proto bird`) or Felix (`proto 80`). */
export function routeSource(r: RouteLine): 'bird' | 'felix' | null {
  if (r.protocol === 'bird' || r.protocol === '12') return 'bird';
  if (r.protocol === '80') return 'felix';
  return null;
}

const SOURCE_TEXT = { bird: 'learned by BGP (BIRD, proto bird)', felix: 'programmed by Felix (proto 80)' } as const;

export interface LabelledRoute {
  route: string;
  label: RouteLabel;
  description: string;
  owner: string | null;
  source?: 'bird' | 'felix' | null;
}

/** Routes of the main path labelled (local-table routes left out; other tables' routes are 'other'). */
function labelRoutes(
  routes: readonly RouteLine[],
  pools: readonly IpPoolInfo[],
  nodes: readonly NodeInfo[],
): LabelledRoute[] {
  return routes
    .filter((r) => r.table !== 'local')
    .map((r) => {
      // A route of another table (policy routing) is not on the main path of pod traffic.
      const label: RouteLabel = r.table && r.table !== 'main' ? 'other' : labelRoute(r, pools);
      const source = routeSource(r);
      const description =
        source && label !== 'host-network' && label !== 'other'
          ? `${ROUTE_LABEL_TEXT[label]}, ${SOURCE_TEXT[source]}`
          : ROUTE_LABEL_TEXT[label];
      return {
        route: r.raw,
        label,
        description,
        owner: label.startsWith('remote-block') ? blockOwner(r, nodes) : null,
        source,
      };
    });
}

export interface RoutesResult {
  node: string;
  routes: LabelledRoute[];
  /** With an IPv6 pool: the node's `ip -6 route`, labelled the same way (absent: no IPv6 pool). */
  routes6?: LabelledRoute[];
  /** BIRD's BGP sessions on the node, where the IPv4 pools are routed by BGP (null: BIRD unread; absent: not BGP). */
  bgp?: null | {
    via: string;
    sessions: BgpSessionJson[];
  };
  /** BIRD6's sessions (bird6.ctl), where an IPv6 pool is routed by BGP; the same shape. */
  bgp6?: RoutesResult['bgp'];
  findings: Finding[];
}

/**
 * Where BIRD distributes the routes, its sessions say why one is missing: this node's sessions, and for each peer
 * not Established the blocks that lost their route here (read from that peer's own blackholes: bounded to the
 * peers that are down).
 */
async function bgpOnNode(
  deps: OperationDeps,
  ctx: OperationContext,
  node: NodeInfo,
  nodes: readonly NodeInfo[],
  pools: readonly IpPoolInfo[],
  routes: RouteLine[],
  family: 4 | 6,
): Promise<{ findings: Finding[]; bgp: RoutesResult['bgp'] }> {
  const read = await readBirdProtocols(deps.shell, nodeTarget(deps, node), ctx.signal, family);
  const self: BgpNodeFacts = {
    name: node.name,
    ...bgpAddressesOf(node, undefined, family),
    bird: read.bird,
    birdError: read.bird ? null : read.error,
    ...(read.bird ? {} : { birdUnreadable: read.failed }),
    routes,
    bgpDrops: [],
    blocks: [],
  };
  const findings = diagnoseBgp([self]);
  if (!read.bird) return { findings, bgp: null };
  const peers = nodes.filter((n) => n.name !== node.name);
  const familyPools = enabledPools(pools, family);
  const down = await mapLimit(peers, NODE_CONCURRENCY, async (other) => {
    const peer = { name: other.name, ...bgpAddressesOf(other, undefined, family) };
    if (bgpPeerFinding(self, { ...peer, blocks: [] }) === null) return null;
    const facts = await inspectNode(deps.shell, nodeTarget(deps, other), ctx.signal, { family }).catch(() => null);
    return bgpPeerFinding(self, { ...peer, blocks: calicoOwnBlocks(facts?.routes ?? null, familyPools) });
  });
  findings.push(...down.filter((f): f is Finding => f !== null));
  return {
    findings,
    bgp: {
      via: read.via,
      sessions: sessionsJson(read.bird),
    },
  };
}

export async function runRoutes(
  deps: OperationDeps,
  cmd: { node: string },
  ctx: OperationContext,
): Promise<OperationOutcome<RoutesResult>> {
  ctx.onStep(`reading node ${cmd.node}`);
  const [node, nodes, pools] = await Promise.all([
    deps.cluster.getNode(cmd.node),
    deps.cluster.listNodes(),
    deps.cluster.listIpPools(),
  ]);
  const target = nodeTarget(deps, node);
  ctx.onStep(`reading ${target.name}'s route table`);
  const facts = await inspectNode(deps.shell, target, ctx.signal);
  if (facts.error || !facts.routes)
    throw new K8snetError('ssh_connect', `could not read ${target.name}'s routes: ${facts.error}`, { retryable: true });
  const routes = labelRoutes(facts.routes, pools, nodes);
  // A dual-stack cluster's IPv6 pod traffic has a table of its own: `ip -6 route`, labelled the same way.
  const raw6 = enabledPools(pools, 6).length > 0 ? (await readRoutes(deps.shell, target, ctx.signal, 6)).routes : null;
  const routes6 = raw6 ? labelRoutes(raw6, pools, nodes) : undefined;
  const findings: Finding[] = [];
  // With Calico IPAM (this node blackholes its own blocks) other nodes' blocks are not their spec.podCIDRs, and this
  // node's table alone cannot tell them: no podCIDR check then. Otherwise a podCIDR (kubeadm's may be wider than the
  // routes that cover it) needs a remote-block route for its first address, as the kernel would look it up.
  const calicoIpam = calicoOwnBlocks(facts.routes, pools).length > 0;
  const others = calicoIpam ? [] : nodes.filter((n) => n.name !== node.name);
  for (const other of others) {
    for (const block of other.podCIDRs) {
      const route = lookupRoute(facts.routes, block.split('/')[0]!, { rules: facts.rules ?? null });
      const covered = route !== null && labelRoute(route, pools).startsWith('remote-block');
      if (!covered)
        findings.push({
          severity: 'warning',
          code: 'route_to_block_missing',
          message: `no route for ${other.name}'s pod CIDR ${block} on ${target.name}`,
          evidence: `spec.podCIDRs of ${other.name}: ${other.podCIDRs.join(', ')}; ${route ? `${block.split('/')[0]} takes ${route.raw}` : 'no route matches'}`,
        });
    }
  }
  // Each family whose pool BIRD routes: BIRD's IPv4 sessions, BIRD6's IPv6 ones (calico/node runs both).
  const bgp = routedByBgp(pools, 4) ? await bgpOnNode(deps, ctx, node, nodes, pools, facts.routes, 4) : null;
  const bgp6 = raw6 && routedByBgp(pools, 6) ? await bgpOnNode(deps, ctx, node, nodes, pools, raw6, 6) : null;
  findings.push(...(bgp?.findings ?? []), ...(bgp6?.findings ?? []));
  const sorted = sortFindings(findings);
  const sessionsTable = (read: RoutesResult['bgp'], daemon: string) =>
    read
      ? [
          {
            kind: 'table' as const,
            title: `${target.name}: ${daemon === 'BIRD6' ? 'IPv6 ' : ''}BGP sessions (${daemon}, read with ${read.via})`,
            columns: SESSION_COLUMNS,
            rows: read.sessions.map(sessionRow),
          },
        ]
      : [];
  const bgpSection = [...sessionsTable(bgp?.bgp ?? null, 'BIRD'), ...sessionsTable(bgp6?.bgp ?? null, 'BIRD6')];
  return {
    result: {
      node: target.name,
      routes,
      ...(routes6 ? { routes6 } : {}),
      ...(bgp ? { bgp: bgp.bgp } : {}),
      ...(bgp6 ? { bgp6: bgp6.bgp } : {}),
      findings: sorted,
    },
    report: {
      title: `routes ${target.name}`,
      headline: headlineFor(sorted),
      findings: sorted,
      sections: [
        {
          kind: 'table',
          title: `${target.name}: ip route, labelled`,
          columns: ['ROUTE', 'WHAT', 'NODE'],
          rows: routes.map((r) => [r.route, r.description, r.owner ?? '']),
        },
        ...(routes6
          ? [
              {
                kind: 'table' as const,
                title: `${target.name}: ip -6 route, labelled`,
                columns: ['ROUTE', 'WHAT', 'NODE'],
                rows: routes6.map((r) => [r.route, r.description, r.owner ?? '']),
              },
            ]
          : []),
        ...bgpSection,
      ],
      attachments: [],
    },
  };
}
