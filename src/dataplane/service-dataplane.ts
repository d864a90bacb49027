/**
 * The seam between operations and kube-proxy's modes: how a node turns a Service (ClusterIP:port or NodePort) into
 * endpoints. Each mode kube-proxy has (iptables, nftables, IPVS) is one implementation: the catalogue commands it
 * reads and a pure walk over their outputs to the same result, so operations and diagnoses never branch on the mode.
 */
import type { NodeCommand } from '../node/types.ts';

export type KubeProxyMode = 'iptables' | 'nftables' | 'ipvs';

/**
 * Where the walk starts: a NodePort, or a ClusterIP and port; the Service port's protocol when known. `family`: the
 * Service's (absent: the ClusterIP's, else IPv4); the modes that keep a table per family (nftables) walk that one.
 */
export type ServiceEntry = ({ nodePort: number } | { clusterIP: string; port: number }) & {
  protocol?: string;
  family?: 4 | 6;
};

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
  /**
   * NodePort entries, when the mode restricts where NodePorts answer: kube-proxy's nftables proxier matches only the
   * addresses of its nodeport-ips set (--nodeport-addresses, `primary` by default: the node's own IPs), or 'local'
   * (any local address but 127.0.0.0/8) — never 127.0.0.1 either way. Absent: the mode does not restrict (iptables).
   */
  nodePortAddresses?: string[] | 'local';
  /** IPVS: kube-proxy ipset members this Service's traffic needs that the node's sets lack (absent: not read). */
  ipsetGaps?: IpsetGap[];
}

/** A member missing from one of kube-proxy's IPVS-mode ipsets, and what that does to the traffic. */
export interface IpsetGap {
  set: string;
  /** As kube-proxy adds it: `10.96.0.10,udp:53`, `31080`. */
  member: string;
  /**
   * rejected: KUBE-IPVS-FILTER refuses new connections to an address on kube-ipvs0 that no Service set lists;
   * not_masqueraded: the KUBE-MARK-MASQ rule matching the set skips it, so replies from endpoints on other nodes
   * bypass this node.
   */
  effect: 'rejected' | 'not_masqueraded';
  /** The rule lines and set contents that show it. */
  evidence: string[];
}

export interface ServiceDataplane {
  readonly mode: KubeProxyMode;
  /** The read-only catalogue commands whose outputs walk() and nodePorts() read, in this order (family 6: the IPv6 rules; then optionalCommands'). */
  commands(family?: 4 | 6): NodeCommand[];
  /** A command to run instead when commands()[i] fails (the tool is not installed): fallbacks(family)[i]. */
  fallbacks?(family?: 4 | 6): (NodeCommand | null)[];
  /** Commands that may fail on a healthy node (an IP family it does not use); their outputs follow, '' when failed. */
  optionalCommands?(family?: 4 | 6): NodeCommand[];
  /** Pure: from the commands' outputs to the path one Service's traffic takes on this node. */
  walk(outputs: readonly string[], entry: ServiceEntry): ServiceWalk;
  /** Pure: the NodePorts this node's rules serve. */
  nodePorts(outputs: readonly string[]): number[];
}
