/**
 * The lab's network, as `ip -batch` / `bridge -batch` lines (pure, so tests pin exactly what a node gets):
 * a switch namespace with a bridge, one namespace per node on it, Calico's per-pod veths with proxy ARP and
 * /32 routes, and the VXLAN overlay Felix would program (device, remote-block routes, neighbours, FDB entries).
 *
 * Containment: the host has ONE link into the lab (to the switch); nodes' default route points at the switch's
 * own address, and the switch namespace does not forward, so nothing routes out of the lab.
 */
import { CALICO_POD_GATEWAY, CALICO_VXLAN } from '../calico/naming.ts';
import { LAB_LINK_MTU, type LabPlan, type PlannedNode, type PlannedPod } from './plan.ts';
import { nthAddress, parseIpv4Cidr } from '../net/ipv4.ts';

export const SWITCH_BRIDGE = 'br0';
/** The switch's own address in the node subnet: the nodes' default gateway, which never forwards. */
const SWITCH_GATEWAY_OFFSET = 254;
/** Calico gives every cali interface this MAC, so pods see the same gateway MAC on every node. */
export const CALI_MAC = 'ee:ee:ee:ee:ee:ee';
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
    `link set ${up} up`,
    `route add default via ${switchGateway(plan)} dev ${up}`,
    // Calico blackholes its own block so addresses not (yet) given to a pod are not routed elsewhere.
    `route add blackhole ${node.block} proto ${FELIX_PROTO}`,
  ];
  const others = plan.nodes.filter((n) => n.name !== node.name);
  if (plan.overlay === 'vxlan') {
    const { device, vni, port } = CALICO_VXLAN;
    lines.push(
      `link add ${device} type vxlan id ${vni} dstport ${port} local ${node.ip} dev ${up} nolearning`,
      `link set ${device} address ${node.tunnelMac} mtu ${plan.podMtu}`,
      `addr add ${node.tunnelIP}/32 dev ${device}`,
      `link set ${device} up`,
    );
    for (const other of others) {
      lines.push(
        `neigh add ${other.tunnelIP} lladdr ${other.tunnelMac} dev ${device} nud permanent`,
        `route add ${other.block} via ${other.tunnelIP} dev ${device} onlink proto ${FELIX_PROTO}`,
      );
    }
  } else if (plan.overlay === 'none' && plan.routing !== 'bgp') {
    // Without BGP the lab writes what BIRD would have (with routing bgp, each node's BIRD does).
    for (const other of others) lines.push(`route add ${other.block} via ${other.ip} dev ${up} proto bird`);
  }
  return lines;
}

/** `bridge -batch` lines for the node: where each remote VTEP MAC lives (Felix writes these FDB entries). */
export function nodeFdbLines(plan: LabPlan, node: PlannedNode): string[] {
  if (plan.overlay !== 'vxlan') return [];
  return plan.nodes
    .filter((n) => n.name !== node.name)
    .map((other) => `fdb add ${other.tunnelMac} dev ${CALICO_VXLAN.device} dst ${other.ip} self permanent`);
}

/** Node side of a pod: the cali veth (peer eth0 moved into the pod's netns) and the /32 route to the pod. */
export function podHostLines(plan: LabPlan, pod: PlannedPod): string[] {
  return [
    `link add ${pod.caliInterface} mtu ${plan.podMtu} type veth peer name eth0 netns ${pod.netnsName}`,
    `link set ${pod.caliInterface} address ${CALI_MAC}`,
    `link set ${pod.caliInterface} up`,
    `route add ${pod.ip} dev ${pod.caliInterface} scope link`,
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
  ];
}

/** sysctls Felix sets on a node and on each cali interface. */
export function nodeSysctls(plan: LabPlan, node: PlannedNode): string[] {
  const pods = plan.pods.filter((p) => p.node === node.name);
  return [
    'net.ipv4.ip_forward=1',
    ...pods.flatMap((p) => [
      `net.ipv4.conf.${p.caliInterface}.proxy_arp=1`,
      `net.ipv4.neigh.${p.caliInterface}.proxy_delay=0`,
      `net.ipv4.conf.${p.caliInterface}.forwarding=1`,
    ]),
  ];
}
