/**
 * kube-proxy's nftables mode (v1.29+): one table per IP family, `ip kube-proxy` and `ip6 kube-proxy`, holding the DNAT
 * path (services → service-ips / service-nodeports maps) and the rejects of Services without endpoints alike.
 */
import { nftListTable } from '../node/catalogue.ts';
import type { ServiceDataplane } from './service-dataplane.ts';
import { nftablesWalk, nodePortsInNft } from './nftables-walk.ts';

export const nftablesDataplane: ServiceDataplane = {
  mode: 'nftables',
  commands: () => [nftListTable('ip')],
  // A node without IPv6 Services has no ip6 table: nft exits 1, and there is nothing to walk.
  optionalCommands: () => [nftListTable('ip6')],
  // An IPv6 Service's NodePort is in the ip6 table as its ClusterIP is (a dual-stack one's in both).
  walk: ([ip4 = '', ip6 = ''], entry) =>
    nftablesWalk(
      (entry.family ?? ('clusterIP' in entry && entry.clusterIP.includes(':') ? 6 : 4)) === 6 ? ip6 : ip4,
      entry,
    ),
  nodePorts: ([ip4 = '', ip6 = '']) =>
    [...new Set([...nodePortsInNft(ip4), ...nodePortsInNft(ip6)])].sort((a, b) => a - b),
};
