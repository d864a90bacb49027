/**
 * The seam between operations and kube-proxy's modes: how a node turns a Service (ClusterIP:port or NodePort) into
 * endpoints. Each mode kube-proxy has (iptables, nftables, IPVS) is one implementation: the catalogue commands it
 * reads and a pure walk over their outputs to the same result, so operations and diagnoses never branch on the mode.
 */
import type { NodeCommand } from '../node/types.ts';

export type KubeProxyMode = 'iptables' | 'nftables' | 'ipvs';

/** Where the walk starts: a NodePort, or a ClusterIP and port; the Service port's protocol when known. */
export type ServiceEntry = ({ nodePort: number } | { clusterIP: string; port: number }) & { protocol?: string };

export interface ServiceWalk {
  /** The rule that catches the traffic exists (KUBE-NODEPORTS / KUBE-SERVICES match, or the mode's equivalent). */
  entryRule: boolean;
  /** Rule lines in the order followed: the entry rule, then each chain's rules. */
  rules: string[];
  /** ip:port of every DNAT reached. */
  dnatTargets: string[];
  /** kube-proxy's REJECT for a Service without endpoints. */
  rejects: string[];
  /** Rules that drop the traffic (externalTrafficPolicy: Local on a node with no local endpoint). */
  drops: string[];
}

export interface ServiceDataplane {
  readonly mode: KubeProxyMode;
  /** The read-only catalogue commands whose outputs walk() and nodePorts() read, in this order (family 6: the IPv6 rules). */
  commands(family?: 4 | 6): NodeCommand[];
  /** Pure: from the commands' outputs to the path one Service's traffic takes on this node. */
  walk(outputs: readonly string[], entry: ServiceEntry): ServiceWalk;
  /** Pure: the NodePorts this node's rules serve. */
  nodePorts(outputs: readonly string[]): number[];
}
