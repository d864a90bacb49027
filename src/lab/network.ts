/**
 * The lab's network, as `ip -batch` / `bridge -batch` lines (pure, so tests pin exactly what a node gets):
 * a switch namespace with a bridge, one namespace per node on it, Calico's per-pod veths with proxy ARP and
 * /32 routes, and the VXLAN overlay Felix would program (device, remote-block routes, neighbours, FDB entries).
 *
 * Containment: the host has ONE link into the lab (to the switch); nodes' default route points at the switch's
 * own address, and the switch namespace does not forward, so nothing routes out of the lab.
 */
import { CALICO_POD_GATEWAY, CALICO_POD_GATEWAY_V6, CALICO_VXLAN } from '../calico/naming.ts';
import { OVERLAY_OVERHEAD, VXLAN_V6_OVERHEAD } from '../calico/encapsulation.ts';
import { LAB_LINK_MTU, type LabPlan, type PlannedNode, type PlannedPod } from './plan.ts';
import { nthAddress, parseIpv4Cidr } from '../net/ipv4.ts';

/** A dual-stack lab's node IPv6 subnet prefix (plan.nodeSubnetV6 is always a /64). */
const NODE_SUBNET_V6_PREFIX = 64;

export const SWITCH_BRIDGE = 'br0';
/** The switch's own address in the node subnet: the nodes' default gateway, which never forwards. */
const SWITCH_GATEWAY_OFFSET = 254;
/** Calico gives every cali interface this MAC, so pods see the same gateway MAC on every node. */
export const CALI_MAC = 'ee:ee:ee:ee:ee:ee';
/** vxlan-v6.calico's MTU: the link MTU less VXLAN over IPv6's 70 bytes of headers (Felix: 1430 on a 1500 link). */
const VXLAN_V6_MTU = LAB_LINK_MTU - VXLAN_V6_OVERHEAD;
/** vxlan.calico's MTU (in a dual-stack lab the pods' MTU is the smaller IPv6 one). */
const VXLAN_MTU = LAB_LINK_MTU - OVERLAY_OVERHEAD.vxlan;
/** Felix's route protocol number (RTPROT 80) for routes it programs: blackholes and VXLAN routes. */
const FELIX_PROTO = '80';

export function switchGateway(plan: LabPlan): string {
  return nthAddress(parseIpv4Cidr(plan.nodeSubnet), SWITCH_GATEWAY_OFFSET);
}

export function prefixOf(plan: LabPlan): number {
  return parseIpv4Cidr(plan.nodeSubnet).prefix;
}

/** The host side of the host's link into the lab, e.g. `k8snet-lab` (IFNAMSIZ allows 15). */
export function hostLinkName(plan: LabPlan): string {
  return `k8snet-${plan.lab}`;
}

/** Switch-side port names live only in the switch namespace. */
function switchPort(index: number): string {
  return `n${index}`;
}

export function switchLines(plan: LabPlan): string[] {
  return [
    'link set lo up',
    `link add ${SWITCH_BRIDGE} type bridge`,
    `addr add ${switchGateway(plan)}/${prefixOf(plan)} dev ${SWITCH_BRIDGE}`,
    `link set ${SWITCH_BRIDGE} up`,
  ];
}

/** Run in the host namespace: the single veth from the host to the switch. */
export function hostLinkLines(plan: LabPlan): string[] {
  const link = hostLinkName(plan);
  return [
    `link add ${link} mtu ${LAB_LINK_MTU} type veth peer name host netns ${plan.switchNetns}`,
    `addr add ${plan.hostIP}/${prefixOf(plan)} dev ${link}`,
    `link set ${link} up`,
  ];
}

export function switchPortLines(plan: LabPlan): string[] {
  return [
    `link set host master ${SWITCH_BRIDGE}`,
    'link set host up',
    ...plan.nodes.flatMap((_, i) => [
      `link set ${switchPort(i)} master ${SWITCH_BRIDGE}`,
      `link set ${switchPort(i)} up`,
    ]),
  ];
}

/** A node's uplink name (plans written before topologies could name it: eth0). */
export function nodeUplink(plan: LabPlan): string {
  return plan.uplink ?? 'eth0';
}

/** Run in the node's namespace: its uplink (peer in the switch), default route, overlay, routes to other blocks. */
export function nodeLines(plan: LabPlan, node: PlannedNode, index: number): string[] {
  const up = nodeUplink(plan);
  const lines = [
    'link set lo up',
    `link add ${up} mtu ${LAB_LINK_MTU} type veth peer name ${switchPort(index)} netns ${plan.switchNetns}`,
    `link set ${up} address ${node.mac}`,
    `addr add ${node.ip}/${prefixOf(plan)} dev ${up}`,
    ...(node.ipv6 ? [`addr add ${node.ipv6}/${NODE_SUBNET_V6_PREFIX} dev ${up} nodad`] : []),
    `link set ${up} up`,
    `route add default via ${switchGateway(plan)} dev ${up}`,
    // IPv6 ClusterIPs need a route to pass the output lookup before kube-proxy's DNAT (IPv4's take the default).
    ...(node.ipv6 && plan.serviceCIDRv6 ? [`route add ${plan.serviceCIDRv6} dev ${up}`] : []),
    // Calico blackholes its own block so addresses not (yet) given to a pod are not routed elsewhere.
    `route add blackhole ${node.block} proto ${FELIX_PROTO}`,
  ];
  const others = plan.nodes.filter((n) => n.name !== node.name);
  if (plan.overlay === 'vxlan') {
    const { device, vni, port } = CALICO_VXLAN;
    lines.push(
      `link add ${device} type vxlan id ${vni} dstport ${port} local ${node.ip} dev ${up} nolearning`,
      `link set ${device} address ${node.tunnelMac} mtu ${VXLAN_MTU}`,
      `addr add ${node.tunnelIP}/32 dev ${device}`,
      `link set ${device} up`,
    );
    for (const other of others) {
      lines.push(
        `neigh add ${other.tunnelIP} lladdr ${other.tunnelMac} dev ${device} nud permanent`,
        `route add ${other.block} via ${other.tunnelIP} dev ${device} onlink proto ${FELIX_PROTO}`,
      );
    }
    if (node.ipv6 && node.tunnelIPv6 && node.tunnelMacV6 && node.blockV6) {
      // VXLAN over IPv6, as Felix programs it for an IPv6 pool: its own device, bound to the node's IPv6 address.
      const v6 = CALICO_VXLAN.deviceV6;
      lines.push(
        `route add blackhole ${node.blockV6} proto ${FELIX_PROTO}`,
        `link add ${v6} type vxlan id ${vni} dstport ${port} local ${node.ipv6} dev ${up} nolearning`,
        `link set ${v6} address ${node.tunnelMacV6} mtu ${VXLAN_V6_MTU}`,
        `addr add ${node.tunnelIPv6}/128 dev ${v6} nodad`,
        `link set ${v6} up`,
      );
      for (const other of others) {
        if (!other.tunnelIPv6 || !other.blockV6) continue;
        lines.push(
          `neigh add ${other.tunnelIPv6} lladdr ${other.tunnelMacV6} dev ${v6} nud permanent`,
          `route add ${other.blockV6} via ${other.tunnelIPv6} dev ${v6} onlink proto ${FELIX_PROTO}`,
        );
      }
    }
  } else if (plan.overlay === 'none') {
    if (node.blockV6) lines.push(`route add blackhole ${node.blockV6} proto ${FELIX_PROTO}`);
    // Without BGP the lab writes what BIRD would have (with routing bgp, each node's BIRD and BIRD6 do).
    if (plan.routing !== 'bgp')
      for (const other of others) lines.push(`route add ${other.block} via ${other.ip} dev ${up} proto bird`);
  }
  return lines;
}

/** `bridge -batch` lines for the node: where each remote VTEP MAC lives (Felix writes these FDB entries). */
export function nodeFdbLines(plan: LabPlan, node: PlannedNode): string[] {
  if (plan.overlay !== 'vxlan') return [];
  return plan.nodes
    .filter((n) => n.name !== node.name)
    .flatMap((other) => [
      `fdb add ${other.tunnelMac} dev ${CALICO_VXLAN.device} dst ${other.ip} self permanent`,
      ...(node.ipv6 && other.ipv6 && other.tunnelMacV6
        ? [`fdb add ${other.tunnelMacV6} dev ${CALICO_VXLAN.deviceV6} dst ${other.ipv6} self permanent`]
        : []),
    ]);
}

/** Node side of a pod: the cali veth (peer eth0 moved into the pod's netns) and the /32 route to the pod. */
export function podHostLines(plan: LabPlan, pod: PlannedPod): string[] {
  return [
    `link add ${pod.caliInterface} mtu ${plan.podMtu} type veth peer name eth0 netns ${pod.netnsName}`,
    `link set ${pod.caliInterface} address ${CALI_MAC}`,
    // The pod's IPv6 gateway is this link-local address (EUI-64 of CALI_MAC); nodad so it answers at once.
    ...(pod.ipv6 ? [`addr add ${CALICO_POD_GATEWAY_V6}/64 dev ${pod.caliInterface} nodad`] : []),
    `link set ${pod.caliInterface} up`,
    `route add ${pod.ip} dev ${pod.caliInterface} scope link`,
    ...(pod.ipv6 ? [`route add ${pod.ipv6} dev ${pod.caliInterface} scope link`] : []),
  ];
}

/** Inside the pod: its /32 and the default route via Calico's link-local gateway, answered by proxy ARP. */
export function podLines(plan: LabPlan, pod: PlannedPod): string[] {
  return [
    'link set lo up',
    `addr add ${pod.ip}/32 dev eth0`,
    // The peer end of a veth is created with the default MTU; Calico gives both ends the pod MTU.
    `link set eth0 mtu ${plan.podMtu} up`,
    `route add ${CALICO_POD_GATEWAY} dev eth0 scope link`,
    `route add default via ${CALICO_POD_GATEWAY} dev eth0`,
    ...(pod.ipv6
      ? [`addr add ${pod.ipv6}/128 dev eth0 nodad`, `route add ::/0 via ${CALICO_POD_GATEWAY_V6} dev eth0`]
      : []),
  ];
}

/** sysctls Felix sets on a node and on each cali interface. */
export function nodeSysctls(plan: LabPlan, node: PlannedNode): string[] {
  const pods = plan.pods.filter((p) => p.node === node.name);
  return [
    'net.ipv4.ip_forward=1',
    ...(node.ipv6 ? ['net.ipv6.conf.all.forwarding=1'] : []),
    ...pods.flatMap((p) => [
      `net.ipv4.conf.${p.caliInterface}.proxy_arp=1`,
      `net.ipv4.neigh.${p.caliInterface}.proxy_delay=0`,
      `net.ipv4.conf.${p.caliInterface}.forwarding=1`,
    ]),
  ];
}
