/**
 * kube-proxy's IPVS mode: the kernel's IPVS table does the DNAT (`ipvsadm -L -n`: a virtual server per Service
 * address and port, a real server per endpoint), every ClusterIP is bound to the kube-ipvs0 dummy device so the node
 * takes its packets in, and iptables keeps only marking and masquerading (KUBE-SERVICES with ipsets). The walk gives
 * the same result as the other modes: the virtual server is the entry, its real servers the DNAT targets.
 *
 * What users see differs in one way: a Service without endpoints keeps its virtual server with no real server, and
 * the node refuses the connection (the address is local on kube-ipvs0; IPVS logs "no destination available").
 */
import { ipvsadmList, kubeIpvsAddresses } from '../node/catalogue.ts';
import { addressesInIpAddrText, parseIpvsadm, type IpvsVirtualServer } from '../parse/ipvsadm.ts';
import { canonicalIp } from '../net/host-port.ts';
import type { ServiceDataplane, ServiceEntry, ServiceWalk } from './service-dataplane.ts';

/** kube-apiserver's default --service-node-port-range, for telling NodePorts apart when kube-ipvs0 could not be read. */
const DEFAULT_NODE_PORT_RANGE = { min: 30000, max: 32767 };

const sameProtocol = (vs: IpvsVirtualServer, protocol: string | undefined) =>
  protocol === undefined || vs.protocol === protocol.toUpperCase();

/** Pure: `ipvsadm -L -n` and `ip addr show dev kube-ipvs0` ('' when unread) to one Service's path on this node. */
export function ipvsWalk(ipvsadm: string, kubeIpvs0: string, entry: ServiceEntry): ServiceWalk {
  const table = parseIpvsadm(ipvsadm);
  const bound = new Set(addressesInIpAddrText(kubeIpvs0));
  const servers = table.virtualServers.filter((vs) => {
    if (!sameProtocol(vs, entry.protocol) || vs.ip === null) return false;
    if ('nodePort' in entry) return vs.port === entry.nodePort && !bound.has(canonicalIp(vs.ip));
    return vs.port === entry.port && canonicalIp(vs.ip) === canonicalIp(entry.clusterIP);
  });
  const rules: string[] = [];
  const dnatTargets = new Set<string>();
  const rejects: string[] = [];
  for (const vs of servers) {
    rules.push(vs.raw, ...vs.realServers.map((r) => `  ${r.raw}`));
    const live = vs.realServers.filter((r) => r.weight > 0);
    for (const r of live) dnatTargets.add(r.target);
    // Weight 0 is kube-proxy draining a removed endpoint: no new connection goes there.
    if (live.length === 0) rejects.push(`${vs.raw} (no real server with weight > 0: connections are refused)`);
  }
  // A ClusterIP whose address is not on kube-ipvs0 is not local: its packets are routed away, never reaching IPVS.
  const unbound = 'clusterIP' in entry && kubeIpvs0.trim() !== '' && !bound.has(canonicalIp(entry.clusterIP));
  if (unbound) rules.push(`kube-ipvs0 does not hold ${entry.clusterIP}`);
  return {
    entryRule: servers.length > 0 && !unbound,
    rules,
    dnatTargets: [...dnatTargets],
    rejects,
    drops: [],
    // IPVS answers a NodePort only on the addresses kube-proxy made a virtual server for (--nodeport-addresses).
    ...('nodePort' in entry ? { nodePortAddresses: servers.map((vs) => canonicalIp(vs.ip!)) } : {}),
  };
}

/** The NodePorts of the table: virtual servers on node addresses, not on kube-ipvs0 (ClusterIPs, external IPs). */
export function nodePortsInIpvs(ipvsadm: string, kubeIpvs0: string): number[] {
  const bound = new Set(addressesInIpAddrText(kubeIpvs0));
  const ports = parseIpvsadm(ipvsadm)
    .virtualServers.filter((vs) => vs.ip !== null && vs.port !== null)
    .filter((vs) =>
      bound.size > 0
        ? !bound.has(canonicalIp(vs.ip!))
        : vs.port! >= DEFAULT_NODE_PORT_RANGE.min && vs.port! <= DEFAULT_NODE_PORT_RANGE.max,
    )
    .map((vs) => vs.port!);
  return [...new Set(ports)].sort((a, b) => a - b);
}

export const ipvsDataplane: ServiceDataplane = {
  mode: 'ipvs',
  commands: () => [ipvsadmList()],
  // A node without kube-ipvs0 (kube-proxy not yet synced) still has its table read; the walk says what is missing.
  optionalCommands: () => [kubeIpvsAddresses()],
  walk: ([ipvsadm = '', kubeIpvs0 = ''], entry) => ipvsWalk(ipvsadm, kubeIpvs0, entry),
  nodePorts: ([ipvsadm = '', kubeIpvs0 = '']) => nodePortsInIpvs(ipvsadm, kubeIpvs0),
};
