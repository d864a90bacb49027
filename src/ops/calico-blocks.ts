/**
 * Which pod blocks a node owns. With Calico IPAM the blocks (a pool cut into /26s, /122s for IPv6) are not the nodes'
 * spec.podCIDRs: a node's affine blocks are what Felix (`proto 80`) or BIRD (`proto bird`) blackholes in its main
 * table, so that addresses of the block not given to a pod go nowhere. Only where no node shows such a blackhole are
 * spec.podCIDRs the blocks (host-local IPAM), and a kubeadm podCIDR may then be wider than the routes that cover it.
 * Pure.
 */
import type { IpPoolInfo } from '../cluster/types.ts';
import type { RouteLine } from '../parse/ip-json.ts';
import { parseRange, rangeWithin } from '../net/ip-range.ts';

const CALICO_PROTOCOLS = new Set(['80', 'bird']);

function inSomePool(destination: string, pools: readonly IpPoolInfo[]): boolean {
  const d = parseRange(destination);
  return (
    d !== null &&
    pools.some((p) => {
      const pool = parseRange(p.cidr);
      return pool !== null && rangeWithin(d, pool);
    })
  );
}

/**
 * The blocks a node's route table says it owns: Calico's blackholes (`proto 80` / `proto bird`; from `route -n`, which
 * prints no proto, any blackhole inside a pool) in the main table.
 */
export function calicoOwnBlocks(routes: readonly RouteLine[] | null, pools: readonly IpPoolInfo[]): string[] {
  if (!routes) return [];
  return routes
    .filter((r) => r.type === 'blackhole' && (r.table ?? 'main') === 'main' && r.destination.includes('/'))
    .filter((r) => (r.protocol !== undefined ? CALICO_PROTOCOLS.has(r.protocol) : inSomePool(r.destination, pools)))
    .map((r) => r.destination);
}

/**
 * Each node's blocks: Calico's own where any node shows them (a node without a blackhole has no block yet), else the
 * node's spec.podCIDRs.
 */
export function nodeBlocks(
  nodes: readonly { name: string; podCIDRs: readonly string[]; routes: readonly RouteLine[] | null }[],
  pools: readonly IpPoolInfo[],
): Map<string, string[]> {
  const own = new Map(nodes.map((n) => [n.name, calicoOwnBlocks(n.routes, pools)]));
  const calicoIpam = [...own.values()].some((b) => b.length > 0);
  return new Map(nodes.map((n) => [n.name, calicoIpam ? own.get(n.name)! : [...n.podCIDRs]]));
}
