/**
 * The lab plan: every address, name and id the lab uses, derived deterministically from a topology and the
 * node subnet chosen at `lab up`. Pure, so the network builder and the lab API server agree by construction
 * and tests can check the derivations without building anything.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { validateLabName } from '../validate.ts';
import { formatIpv4Cidr, nthAddress, nthBlock, parseIpv4Cidr, cidrSize, cidrsOverlap } from '../net/ipv4.ts';
import { formatIpv6Cidr, ipv6CidrSize, nthIpv6Address, nthIpv6Block, parseIpv6Cidr } from '../net/ipv6.ts';
import { joinHostPort } from '../net/host-port.ts';
import { CALICO_IPIP_DEVICE, CALICO_VXLAN, caliInterfaceName } from '../calico/naming.ts';
import { OVERLAY_OVERHEAD, VXLAN_V6_OVERHEAD, type OverlayMode } from '../calico/encapsulation.ts';
import type {
  EncapsulationMode,
  LabKubeProxyMode,
  LabRouting,
  PortProtocol,
  ServiceType,
  Topology,
  TopologyIpPool,
  TopologyService,
} from './topology.ts';

export const DEFAULT_LAB_NAME = 'lab';
/** Ethernet MTU of the lab links. */
export const LAB_LINK_MTU = 1500;
/** Offsets inside the node subnet: .1 is the host's link into the lab, nodes start at .11. */
const HOST_OFFSET = 1;
const FIRST_NODE_OFFSET = 11;
/** ClusterIPs start here inside the service CIDR (.1 is the `kubernetes` service on a real cluster). */
const FIRST_CLUSTER_IP_OFFSET = 100;
/** Calico's default BGP AS number (BGPConfiguration asNumber, docs: "Default: 64512"). */
export const CALICO_DEFAULT_AS = 64512;

export interface PlannedIpPool extends TopologyIpPool {
  overlay: OverlayMode;
}

export interface PlannedNode {
  name: string;
  uid: string;
  /** Network namespace that plays the node (`ip netns` name). */
  netns: string;
  ip: string;
  mac: string;
  /** The node's Calico IPAM block, also published as spec.podCIDR. */
  block: string;
  /** Calico's per-node tunnel address (annotation projectcalico.org/IPv4VXLANTunnelAddr or IPv4IPIPTunnelAddr). */
  tunnelIP: string;
  tunnelMac: string;
  /** projectcalico.org/IPv4Address as the lab publishes it (absent: the node's own address and subnet prefix). */
  calicoIPv4Address?: string;
  /** Dual-stack labs only: the node's IPv6 address on the switch, its IPv6 block, vxlan-v6.calico's address and MAC. */
  ipv6?: string;
  blockV6?: string;
  tunnelIPv6?: string;
  tunnelMacV6?: string;
}

export interface PlannedContainer {
  name: string;
  /** containerd id: 64 lower-case hex digits. */
  id: string;
  image: string;
  ports: number[];
  /** Named containerPorts (absent in plans written before ports could be named). */
  namedPorts?: { name: string; port: number }[];
}

export interface PlannedPod {
  name: string;
  namespace: string;
  uid: string;
  node: string;
  ip: string;
  /** Dual-stack labs only: the pod's IPv6 address (status.podIPs[1]). */
  ipv6?: string;
  labels: Record<string, string>;
  /** Host side of the pod's veth, named as Calico names it. */
  caliInterface: string;
  /** Network namespace name as containerd's CNI names it (`cni-<uuid>`), under /var/run/netns. */
  netnsName: string;
  sandboxId: string;
  containers: PlannedContainer[];
}

export interface PlannedEndpoint {
  pod: string;
  namespace: string;
  ip: string;
  node: string;
  port: number;
  /** kube-proxy's KUBE-SEP-* chain for this endpoint. */
  sepChain: string;
}

export interface PlannedServicePort {
  name: string;
  port: number;
  targetPort: number;
  nodePort?: number;
  protocol: PortProtocol;
  /** kube-proxy's KUBE-SVC-* chain, and KUBE-EXT-* for NodePorts. */
  svcChain: string;
  extChain?: string;
  endpoints: PlannedEndpoint[];
}

export interface PlannedService {
  name: string;
  namespace: string;
  uid: string;
  type: ServiceType;
  /** 6: a single-stack IPv6 Service (its ClusterIP and endpoints IPv6, its rules in ip6tables); absent: IPv4. */
  ipFamily?: 6;
  clusterIP: string;
  selector: Record<string, string>;
  ports: PlannedServicePort[];
  /**
   * A dual-stack Service's IPv6 half (spec.clusterIPs[1], the IPv6 EndpointSlice, kube-proxy's ip6tables rules);
   * `clusterIP` and `ports` are then its IPv4 half.
   */
  ipv6?: { clusterIP: string; ports: PlannedServicePort[] };
}

/**
 * The lab's Services as one family's kube-proxy sees them: that family's single-stack Services, and each dual-stack
 * Service's half of that family (its IPv6 half with ipFamily 6).
 */
export function servicesOfFamily(plan: Pick<LabPlan, 'services'>, family: 4 | 6): PlannedService[] {
  return plan.services.flatMap((s) => {
    if (family === 4) return s.ipFamily === 6 ? [] : [s];
    if (s.ipFamily === 6) return [s];
    return s.ipv6 ? [{ ...s, ipFamily: 6 as const, clusterIP: s.ipv6.clusterIP, ports: s.ipv6.ports }] : [];
  });
}

export interface LabPlan {
  lab: string;
  nodeSubnet: string;
  /** The host's only address in the lab: its end of the single link to the lab switch. */
  hostIP: string;
  switchNetns: string;
  serviceCIDR: string;
  /** The IPv6 Service range, when the lab has an IPv6 Service. */
  serviceCIDRv6?: string;
  /** Cross-node routing (absent in plans written before BGP: vxlan, i.e. Felix's static routes). */
  routing?: LabRouting;
  /** The BGP AS every node's BIRD uses (Calico's default, 64512), with routing bgp. */
  asNumber?: number;
  /** kube-proxy's mode on every node (absent in plans written before the lab had modes: iptables). */
  kubeProxy?: LabKubeProxyMode;
  overlay: OverlayMode;
  overlayDevice: string | null;
  /** Every node's uplink (the interface holding its address): eth0 unless the topology names another. */
  uplink?: string;
  /** MTU of pod interfaces and the tunnel device: the link MTU less the overlay's headers. */
  podMtu: number;
  /** calico-config's veth_mtu as served (topology clusterConfig.vethMtu; absent: podMtu, or 0 with dual stack). */
  calicoVethMtu?: number;
  /** kube-controller-manager's --cluster-cidr as served (absent: the IP pool's CIDR). */
  clusterCIDR?: string;
  ipPool: PlannedIpPool;
  /** Dual-stack labs only: the IPv6 pool (VXLAN over IPv6 on vxlan-v6.calico) and the nodes' IPv6 subnet. */
  ipPoolV6?: PlannedIpPool;
  nodeSubnetV6?: string;
  nodes: PlannedNode[];
  pods: PlannedPod[];
  services: PlannedService[];
  /** Declared namespaces and their labels (absent in plans written before namespaces could be declared). */
  namespaces?: { name: string; labels: Record<string, string> }[];
}

export interface PlanInput {
  lab: string;
  nodeSubnet: string;
}

function sha(algorithm: 'sha1' | 'sha256', text: string): Buffer {
  return createHash(algorithm).update(text).digest();
}

/** A UUID (version-4 layout) derived from a seed, so a rebuilt lab keeps its ids. */
export function deterministicUuid(seed: string): string {
  const b = sha('sha256', seed).subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function deterministicMac(firstOctet: number, seed: string): string {
  const b = sha('sha256', seed);
  return [firstOctet, b[0]!, b[1]!, b[2]!, b[3]!, b[4]!].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32(buf: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** kube-proxy's chain hash: base32(sha256(servicePortName + protocol))[:16] (pkg/proxy/iptables/proxier.go portProtoHash). */
function kubeProxyHash(text: string): string {
  return base32(sha('sha256', text)).slice(0, 16);
}

/**
 * kube-proxy nftables' chain base (pkg/proxy/nftables/proxier.go hashAndTruncate): base32(sha256(name))[:8] + "-" +
 * name, where name is "ns/svc/proto/port" for a Service port and "ns/svc/proto/port__ip/port" for an endpoint
 * (never truncated at lab name lengths: at most 205 characters).
 */
export function nftablesChainBase(name: string): string {
  return `${base32(sha('sha256', name)).slice(0, 8)}-${name}`;
}

/** servicePortName is "<namespace>/<service>:<port name>", protocol lower-case ("tcp"). */
export function kubeProxyChains(servicePortName: string, protocol: string) {
  const proto = protocol.toLowerCase();
  return {
    svcChain: `KUBE-SVC-${kubeProxyHash(servicePortName + proto)}`,
    extChain: `KUBE-EXT-${kubeProxyHash(servicePortName + proto)}`,
    sepChain: (endpoint: string) => `KUBE-SEP-${kubeProxyHash(servicePortName + proto + endpoint)}`,
  };
}

/**
 * A dual-stack lab's node subnet: a unique-local /64 (RFC 4193, fd00::/8) whose 40-bit global ID is derived from the
 * lab's name, as RFC 4193 asks for a pseudo-random one. It exists only on the lab switch: the host gets no IPv6 route.
 */
export function nodeSubnetV6(lab: string) {
  const id = sha('sha1', `k8snet-lab/${lab}`).subarray(0, 5).toString('hex');
  return parseIpv6Cidr(`fd${id.slice(0, 2)}:${id.slice(2, 6)}:${id.slice(6, 10)}::/64`);
}

function overlayOf(pool: TopologyIpPool): OverlayMode {
  if (pool.vxlanMode !== 'Never') return 'vxlan';
  if (pool.ipipMode !== 'Never') return 'ipip';
  return 'none';
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

export function planLab(topology: Topology, input: PlanInput): LabPlan {
  const lab = validateLabName(input.lab);
  const subnet = parseIpv4Cidr(input.nodeSubnet);
  if (cidrSize(subnet) < FIRST_NODE_OFFSET + topology.nodes.length + 1) {
    throw new InvalidInputError('nodeSubnet', `${input.nodeSubnet} is too small for ${topology.nodes.length} nodes`);
  }
  const poolSpec = topology.ipPools[0];
  if (!poolSpec) throw new InvalidInputError('ipPools', 'the lab needs one IP pool');
  const pool = parseIpv4Cidr(poolSpec.cidr);
  for (const [field, cidr] of [
    ['IP pool', poolSpec.cidr],
    ['serviceCIDR', topology.serviceCIDR],
  ] as const) {
    if (cidrsOverlap(subnet, parseIpv4Cidr(cidr)))
      throw new InvalidInputError('nodeSubnet', `${input.nodeSubnet} overlaps the ${field} ${cidr}`);
  }
  const overlay = overlayOf(poolSpec);
  const ipPool: PlannedIpPool = { ...poolSpec, overlay };
  const poolV6Spec = topology.ipPools[1];
  const poolV6 = poolV6Spec ? parseIpv6Cidr(poolV6Spec.cidr) : null;
  const subnetV6 = poolV6Spec ? nodeSubnetV6(lab) : null;

  const nodes: PlannedNode[] = topology.nodes.map((n, i) => {
    const block = nthBlock(pool, poolSpec.blockSize, i);
    return {
      name: n.name,
      uid: deterministicUuid(`${lab}/node/${n.name}`),
      netns: `k8snet-${lab}-${n.name}`,
      ip: nthAddress(subnet, FIRST_NODE_OFFSET + i),
      mac: deterministicMac(0x02, `${lab}/node-mac/${n.name}`),
      block: formatIpv4Cidr(block),
      tunnelIP: nthAddress(block, 0),
      tunnelMac: deterministicMac(0x66, `${lab}/tunnel-mac/${n.name}`),
      ...(n.calicoIPv4Address === undefined ? {} : { calicoIPv4Address: n.calicoIPv4Address }),
      ...(poolV6 && subnetV6
        ? (() => {
            const blockV6 = nthIpv6Block(poolV6, poolV6Spec!.blockSize, i);
            return {
              ipv6: nthIpv6Address(subnetV6, FIRST_NODE_OFFSET + i),
              blockV6: formatIpv6Cidr(blockV6),
              // Felix gives a node a VTEP of the IPv6 pool only when that pool is carried in VXLAN.
              ...(poolV6Spec!.vxlanMode === 'Never'
                ? {}
                : {
                    tunnelIPv6: nthIpv6Address(blockV6, 0),
                    tunnelMacV6: deterministicMac(0x66, `${lab}/tunnel-mac-v6/${n.name}`),
                  }),
            };
          })()
        : {}),
    };
  });
  const nodeByName = new Map(nodes.map((n) => [n.name, n]));

  const podsOnNode = new Map<string, number>();
  const pods: PlannedPod[] = topology.pods.map((p) => {
    const node = nodeByName.get(p.node)!;
    const k = (podsOnNode.get(p.node) ?? 0) + 1; // offset 0 is the node's tunnel address
    podsOnNode.set(p.node, k);
    const block = parseIpv4Cidr(node.block);
    if (k >= cidrSize(block))
      throw new InvalidInputError('pods', `node ${p.node} has more pods than its /${poolSpec.blockSize} block holds`);
    const seed = `${lab}/pod/${p.namespace}/${p.name}`;
    const blockV6 = node.blockV6 ? parseIpv6Cidr(node.blockV6) : null;
    if (blockV6 && BigInt(k) >= ipv6CidrSize(blockV6))
      throw new InvalidInputError('pods', `node ${p.node} has more pods than its IPv6 block holds`);
    return {
      name: p.name,
      namespace: p.namespace,
      uid: deterministicUuid(seed),
      node: p.node,
      ip: nthAddress(block, k),
      ...(blockV6 ? { ipv6: nthIpv6Address(blockV6, k) } : {}),
      labels: p.labels,
      caliInterface: caliInterfaceName(p.namespace, p.name),
      netnsName: `cni-${deterministicUuid(`${seed}/netns`)}`,
      sandboxId: sha('sha256', `${seed}/sandbox`).toString('hex'),
      containers: p.containers.map((c) => ({
        name: c.name,
        id: sha('sha256', `${seed}/container/${c.name}`).toString('hex'),
        image: 'registry.k8s.io/k8snet-lab/listener:1',
        ports: c.ports,
        namedPorts: c.namedPorts,
      })),
    };
  });

  const serviceCidr = parseIpv4Cidr(topology.serviceCIDR);
  const serviceCidrV6 = topology.serviceCIDRv6 ? parseIpv6Cidr(topology.serviceCIDRv6) : null;
  const hasV4 = (s: TopologyService) => s.ipFamily !== 'IPv6';
  const hasV6 = (s: TopologyService) => s.ipFamily !== undefined;
  // Each family's ClusterIPs are handed out in turn, as kube-apiserver's allocator for that range does.
  const before = (i: number, has: (s: TopologyService) => boolean) => topology.services.slice(0, i).filter(has).length;
  const servicePorts = (s: TopologyService, family: 4 | 6): PlannedServicePort[] =>
    s.ports.map((p) => {
      const chains = kubeProxyChains(`${s.namespace}/${s.name}:${p.name}`, p.protocol);
      const endpoints = pods
        .filter((pod) => pod.namespace === s.namespace && selects(s.selector, pod.labels))
        .flatMap((pod) => {
          const ip = family === 6 ? pod.ipv6 : pod.ip;
          if (ip === undefined) return [];
          return [
            {
              pod: pod.name,
              namespace: pod.namespace,
              ip,
              node: pod.node,
              port: p.targetPort,
              // kube-proxy hashes the endpoint as net.JoinHostPort writes it: [fd00::5]:80 for IPv6.
              sepChain: chains.sepChain(joinHostPort(ip, p.targetPort)),
            },
          ];
        });
      return {
        name: p.name,
        port: p.port,
        targetPort: p.targetPort,
        ...(p.nodePort === undefined ? {} : { nodePort: p.nodePort, extChain: chains.extChain }),
        protocol: p.protocol,
        svcChain: chains.svcChain,
        endpoints,
      };
    });
  const clusterIPv6 = (i: number) => nthIpv6Address(serviceCidrV6!, FIRST_CLUSTER_IP_OFFSET + before(i, hasV6));
  const services: PlannedService[] = topology.services.map((s, i) => ({
    name: s.name,
    namespace: s.namespace,
    uid: deterministicUuid(`${lab}/service/${s.namespace}/${s.name}`),
    type: s.type,
    ...(s.ipFamily === 'IPv6' ? { ipFamily: 6 as const } : {}),
    clusterIP: hasV4(s) ? nthAddress(serviceCidr, FIRST_CLUSTER_IP_OFFSET + before(i, hasV4)) : clusterIPv6(i),
    selector: s.selector,
    ports: servicePorts(s, hasV4(s) ? 4 : 6),
    ...(s.ipFamily === 'DualStack' ? { ipv6: { clusterIP: clusterIPv6(i), ports: servicePorts(s, 6) } } : {}),
  }));

  return {
    lab,
    nodeSubnet: formatIpv4Cidr(subnet),
    hostIP: nthAddress(subnet, HOST_OFFSET),
    switchNetns: `k8snet-${lab}-switch`,
    serviceCIDR: topology.serviceCIDR,
    ...(topology.serviceCIDRv6 ? { serviceCIDRv6: topology.serviceCIDRv6 } : {}),
    kubeProxy: topology.kubeProxy,
    routing: topology.routing,
    ...(topology.routing === 'bgp' ? { asNumber: CALICO_DEFAULT_AS } : {}),
    overlay,
    overlayDevice: overlay === 'vxlan' ? CALICO_VXLAN.device : overlay === 'ipip' ? CALICO_IPIP_DEVICE : null,
    uplink: topology.nodeUplink,
    // Felix gives pods the smallest MTU any enabled overlay leaves (VXLAN over IPv6's 70 bytes in a dual-stack lab).
    podMtu:
      LAB_LINK_MTU -
      Math.max(OVERLAY_OVERHEAD[overlay], poolV6Spec && poolV6Spec.vxlanMode !== 'Never' ? VXLAN_V6_OVERHEAD : 0),
    ...(topology.clusterConfig?.vethMtu === undefined ? {} : { calicoVethMtu: topology.clusterConfig.vethMtu }),
    ...(topology.clusterConfig?.clusterCIDR === undefined ? {} : { clusterCIDR: topology.clusterConfig.clusterCIDR }),
    ipPool,
    ...(poolV6Spec && subnetV6
      ? { ipPoolV6: { ...poolV6Spec, overlay: overlayOf(poolV6Spec) }, nodeSubnetV6: formatIpv6Cidr(subnetV6) }
      : {}),
    nodes,
    pods,
    services,
    namespaces: topology.namespaces.map((n) => ({ name: n.name, labels: n.labels })),
  };
}

export type { EncapsulationMode };
