/**
 * kube-proxy's IPVS mode: the kernel's IPVS table does the DNAT (`ipvsadm -L -n`: a virtual server per Service
 * address and port, a real server per endpoint), every ClusterIP is bound to the kube-ipvs0 dummy device so the node
 * takes its packets in, and iptables keeps only marking and masquerading (KUBE-SERVICES with ipsets). The walk gives
 * the same result as the other modes: the virtual server is the entry, its real servers the DNAT targets.
 *
 * What users see differs in one way: a Service without endpoints keeps its virtual server with no real server, and
 * the node refuses the connection (the address is local on kube-ipvs0; IPVS logs "no destination available").
 */
import { iptablesSave, ipsetList, ipvsadmList, ipvsKernelTable, kubeIpvsAddresses } from '../node/catalogue.ts';
import { addressesInIpAddrText, parseIpvsadm, type IpvsVirtualServer } from '../parse/ipvsadm.ts';
import { ipsetMemberKey, parseIpsetList, type IpSetList } from '../parse/ipset.ts';
import { chainRules, parseIptablesSave } from '../parse/iptables-save.ts';
import { canonicalIp } from '../net/host-port.ts';
import { ipFamily } from '../validate.ts';
import type { IpsetGap, ServiceDataplane, ServiceEntry, ServiceWalk } from './service-dataplane.ts';

/** kube-apiserver's default --service-node-port-range, for telling NodePorts apart when kube-ipvs0 could not be read. */
const DEFAULT_NODE_PORT_RANGE = { min: 30000, max: 32767 };

const sameProtocol = (vs: IpvsVirtualServer, protocol: string | undefined) =>
  protocol === undefined || vs.protocol === protocol.toUpperCase();

/** kube-proxy names its IPv6 sets `KUBE-6-…` so both families' sets can live side by side (pkg/proxy/ipvs/ipset.go). */
const setName = (name: string, family: 4 | 6) => (family === 6 ? name.replace(/^KUBE-/, 'KUBE-6-') : name);
const hasMember = (sets: IpSetList, name: string, member: string) =>
  sets.sets.get(name)?.members.some((m) => ipsetMemberKey(m) === ipsetMemberKey(member)) ?? false;

/**
 * The ipset members kube-proxy adds for this Service port, checked against the node's sets: a ClusterIP:port missing
 * from KUBE-CLUSTER-IP is refused by KUBE-IPVS-FILTER (filter INPUT: RETURN for the Service sets, then REJECT of NEW
 * connections to anything in KUBE-IPVS-IPS); a NodePort missing from KUBE-NODE-PORT-<proto> is not marked for
 * masquerade. Sets kube-proxy never wrote (another mode, ipset unreadable) give no gap.
 */
function ipsetGaps(
  ipsets: string,
  filterSave: string,
  entry: ServiceEntry,
  family: 4 | 6,
  protocol: string,
): IpsetGap[] {
  const sets = parseIpsetList(ipsets);
  const proto = protocol.toLowerCase();
  if ('nodePort' in entry) {
    // SCTP NodePorts live in a hash:ip,port set per node address; TCP and UDP in a bitmap of ports.
    if (proto === 'sctp') return [];
    const name = setName(`KUBE-NODE-PORT-${protocol.toUpperCase()}`, family);
    const set = sets.sets.get(name);
    if (!set || hasMember(sets, name, String(entry.nodePort))) return [];
    return [
      {
        set: name,
        member: String(entry.nodePort),
        effect: 'not_masqueraded',
        evidence: [`ipset list ${name}: ${set.members.length} member(s), not ${entry.nodePort}`],
      },
    ];
  }
  const name = setName('KUBE-CLUSTER-IP', family);
  const member = `${canonicalIp(entry.clusterIP)},${proto}:${entry.port}`;
  const set = sets.sets.get(name);
  if (!set || hasMember(sets, name, member)) return [];
  const missing = `ipset list ${name}: no member ${member}`;
  const ipvsIps = setName('KUBE-IPVS-IPS', family);
  const save = parseIptablesSave(filterSave);
  const reject = chainRules(save, 'filter', 'KUBE-IPVS-FILTER').find(
    (r) => r.target?.name === 'REJECT' && r.matches.sets.some((m) => m.name === ipvsIps && !m.negated),
  );
  if (reject && hasMember(sets, ipvsIps, canonicalIp(entry.clusterIP)))
    return [
      {
        set: name,
        member,
        effect: 'rejected',
        evidence: [reject.raw, missing, `ipset list ${ipvsIps}: holds ${canonicalIp(entry.clusterIP)}`],
      },
    ];
  return [{ set: name, member, effect: 'not_masqueraded', evidence: [missing] }];
}

/**
 * Pure: the IPVS table (`ipvsadm -L -n`, or /proc/net/ip_vs), `ip addr show dev kube-ipvs0`, `ipset list` and the
 * filter table's rules ('' when unread) to one Service's path on this node.
 */
export function ipvsWalk(
  ipvsadm: string,
  kubeIpvs0: string,
  entry: ServiceEntry,
  companions: { ipsets?: string; filterSave?: string } = {},
): ServiceWalk {
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
  if (table.format === 'kernel') rules.push('(read from /proc/net/ip_vs: ipvsadm is not installed on this node)');
  const family = servers[0]?.ip ? ipFamily(servers[0].ip) : 'clusterIP' in entry ? ipFamily(entry.clusterIP) : 4;
  const gaps =
    companions.ipsets?.trim() && servers.length > 0 && !unbound
      ? ipsetGaps(companions.ipsets, companions.filterSave ?? '', entry, family, entry.protocol ?? 'TCP')
      : undefined;
  return {
    entryRule: servers.length > 0 && !unbound,
    rules,
    dnatTargets: [...dnatTargets],
    rejects,
    drops: [],
    // IPVS answers a NodePort only on the addresses kube-proxy made a virtual server for (--nodeport-addresses).
    ...('nodePort' in entry ? { nodePortAddresses: servers.map((vs) => canonicalIp(vs.ip!)) } : {}),
    ...(gaps === undefined ? {} : { ipsetGaps: gaps }),
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
  // ipvsadm is a package of its own, often not installed on nodes; the kernel prints the same table.
  fallbacks: () => [ipvsKernelTable()],
  // A node without kube-ipvs0 (kube-proxy not yet synced) still has its table read; the walk says what is missing.
  optionalCommands: (family = 4) => [kubeIpvsAddresses(), ipsetList(), iptablesSave('filter', { family })],
  walk: ([ipvsadm = '', kubeIpvs0 = '', ipsets = '', filterSave = ''], entry) =>
    ipvsWalk(ipvsadm, kubeIpvs0, entry, { ipsets, filterSave }),
  nodePorts: ([ipvsadm = '', kubeIpvs0 = '']) => nodePortsInIpvs(ipvsadm, kubeIpvs0),
};
