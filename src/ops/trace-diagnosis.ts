/**
 * Judges a trace: from the gathered facts to plain-language findings, each with the evidence line it rests on.
 * Pure. The order follows the packet: pods, the source node's route, tunnels, the destination node's route to
 * the pod, the listener, then what the capture saw on the wire.
 */
import type { Finding } from '../model/report.ts';
import { cidrHolds } from '../net/ip-range.ts';
import { lookupRoute } from './route-lookup.ts';
import { OVERLAY_OVERHEAD } from '../calico/encapsulation.ts';
import { listeningPorts } from '../parse/listeners.ts';
import { loopbackOnlyListener } from './loopback-listener.ts';
import type { CapturePointFacts, NodeFacts, ObservedFlow, OverlayMode, PodEnd, TraceFacts } from './trace-facts.ts';
import type { EncapsulationSetting, IpPoolInfo } from '../cluster/types.ts';

const err = (code: string, message: string, evidence = ''): Finding => ({ severity: 'error', code, message, evidence });
const warn = (code: string, message: string, evidence = ''): Finding => ({ severity: 'warning', code, message, evidence });
const info = (code: string, message: string, evidence = ''): Finding => ({ severity: 'info', code, message, evidence });

const NO_FORWARD_TYPES = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);

/** The kernel's route choice (both families, policy rules where given): route-lookup.ts. */
export { lookupRoute } from './route-lookup.ts';

export function poolFor(pools: readonly IpPoolInfo[], ip: string): IpPoolInfo | null {
  return pools.find((p) => cidrHolds(p.cidr, ip)) ?? null;
}

/** Which encapsulation Calico uses between two nodes for a pool (CrossSubnet encapsulates only across subnets). */
export function overlayBetween(pool: IpPoolInfo | null, sameNode: boolean, sameSubnet: boolean): { mode: OverlayMode; device: string | null } {
  if (!pool || sameNode) return { mode: 'none', device: null };
  const applies = (s: EncapsulationSetting) => s === 'Always' || (s === 'CrossSubnet' && !sameSubnet);
  // Felix's IPv6 VXLAN device is vxlan-v6.calico (there is no IP-in-IP for IPv6).
  if (applies(pool.vxlanMode)) return { mode: 'vxlan', device: pool.cidr.includes(':') ? 'vxlan-v6.calico' : 'vxlan.calico' };
  if (applies(pool.ipipMode)) return { mode: 'ipip', device: 'tunl0' };
  return { mode: 'none', device: null };
}

function podLabel(end: PodEnd): string {
  return `${end.pod.namespace}/${end.pod.name}`;
}

function podFindings(end: PodEnd): Finding[] {
  const out: Finding[] = [];
  const p = end.pod;
  if (p.phase !== 'Running') out.push(err('pod_not_running', `${podLabel(end)} is ${p.phase}, not Running`, `status.phase: ${p.phase}`));
  else if (!p.ready) out.push(warn('pod_not_ready', `${podLabel(end)} is Running but not Ready`, `containers: ${p.containers.map((c) => `${c.name} ready=${c.ready}`).join(', ')}`));
  if (!p.podIP) out.push(err('pod_no_ip', `${podLabel(end)} has no pod IP yet`, 'status.podIP is empty'));
  if (p.hostNetwork) out.push(info('host_network', `${podLabel(end)} uses the host network: no cali interface, traffic uses the node's address`, 'spec.hostNetwork: true'));
  return out;
}

function nodeFindings(node: NodeFacts): Finding[] {
  const out: Finding[] = [];
  if (node.error) out.push(err('node_unreachable', `could not inspect ${node.name} (${node.ip}): ${node.error}`, node.error));
  if (node.ipForward === false) out.push(err('ip_forward_off', `IP forwarding is off on ${node.name}: it will not pass packets between pods and the network`, 'net.ipv4.ip_forward = 0'));
  for (const [iface, value] of Object.entries(node.rpFilter)) {
    if (value === 1) {
      out.push(warn('rp_filter_strict', `strict reverse-path filtering on ${node.name} (${iface}) can drop pod traffic that arrives on a different interface than the reply would leave by`, `net.ipv4.conf.${iface}.rp_filter = 1`));
    }
  }
  return out;
}

function caliFindings(end: PodEnd): Finding[] {
  const node = end.node;
  if (!node?.links || end.pod.hostNetwork) return [];
  const cali = node.links.find((l) => l.name === end.caliInterface);
  if (!cali) {
    return [err('cali_missing', `${end.caliInterface}, the host side of ${podLabel(end)}'s veth, does not exist on ${node.name}`, `interfaces on ${node.name}: ${node.links.filter((l) => l.name.startsWith('cali')).map((l) => l.name).join(', ') || 'no cali*'}`)];
  }
  if (!cali.up) return [err('cali_down', `${end.caliInterface} (${podLabel(end)}) is down on ${node.name}`, `${cali.name} state DOWN`)];
  return [];
}

function routeFindings(facts: TraceFacts, srcNode: NodeFacts, dstNode: NodeFacts, sameNode: boolean): Finding[] {
  const out: Finding[] = [];
  const dstIp = facts.dst.pod.podIP;
  if (!dstIp || !srcNode.routes) return out;
  const route = lookupRoute(srcNode.routes, dstIp);
  const block = facts.pool ? ` (pool ${facts.pool.cidr})` : '';
  if (!route || NO_FORWARD_TYPES.has(route.type)) {
    out.push(err('no_route_to_dst', `${srcNode.name} has no route to ${podLabel(facts.dst)} at ${dstIp}${block}`, route ? route.raw : `no route in ${srcNode.name}'s table matches ${dstIp}`));
  } else if (sameNode) {
    if (route.device !== facts.dst.caliInterface) {
      out.push(err('wrong_route_to_local_pod', `${srcNode.name} routes ${dstIp} via ${route.device ?? route.gateway} instead of ${facts.dst.caliInterface}`, route.raw));
    }
  } else if (facts.overlay.device && route.device !== facts.overlay.device) {
    const how = route.destination === 'default' ? 'the default route (out of the cluster network)' : `${route.device ?? route.gateway}`;
    out.push(err('no_route_to_block', `${srcNode.name} has no route to ${dstNode.name}'s pod block through ${facts.overlay.device}: packets to ${dstIp} take ${how}`, route.raw));
  } else if (facts.overlay.mode === 'none' && route.gateway !== dstNode.ip) {
    out.push(warn('unexpected_next_hop', `${srcNode.name} sends ${dstIp} to ${route.gateway ?? route.device} rather than straight to ${dstNode.name} (${dstNode.ip})`, route.raw));
  }
  if (!sameNode && dstNode.routes) {
    const back = lookupRoute(dstNode.routes, dstIp);
    if (!back || back.device !== facts.dst.caliInterface) {
      out.push(err('no_route_to_pod', `${dstNode.name} does not route ${dstIp} to ${facts.dst.caliInterface} (${podLabel(facts.dst)})`, back ? back.raw : `no route matches ${dstIp}`));
    }
  }
  return out;
}

function tunnelFindings(facts: TraceFacts, nodes: NodeFacts[]): Finding[] {
  const device = facts.overlay.device;
  if (!device) return [];
  const out: Finding[] = [];
  for (const node of nodes) {
    if (!node.links) continue;
    const link = node.links.find((l) => l.name === device);
    if (!link) out.push(err('tunnel_missing', `${node.name} has no ${device} device, so it cannot send or receive ${facts.overlay.mode.toUpperCase()} traffic`, `no ${device} in ip link on ${node.name}`));
    else if (!link.up) out.push(err('tunnel_down', `${device} is down on ${node.name}`, `${device} state DOWN`));
    else {
      const uplink = node.links.find((l) => l.name === 'eth0') ?? null;
      const overhead = OVERLAY_OVERHEAD[facts.overlay.mode];
      if (uplink?.mtu && link.mtu && link.mtu > uplink.mtu - overhead) {
        out.push(warn('mtu_too_large', `${device} on ${node.name} has MTU ${link.mtu}, more than ${uplink.mtu} - ${overhead} bytes of ${facts.overlay.mode.toUpperCase()} headers leave room for: large packets will be dropped or fragmented`, `${device} mtu ${link.mtu}, eth0 mtu ${uplink.mtu}`));
      }
    }
  }
  for (const end of [facts.src, facts.dst]) {
    const cali = end.node?.links?.find((l) => l.name === end.caliInterface);
    const uplink = end.node?.links?.find((l) => l.name === 'eth0');
    const overhead = OVERLAY_OVERHEAD[facts.overlay.mode];
    if (cali?.mtu && uplink?.mtu && cali.mtu > uplink.mtu - overhead) {
      out.push(warn('mtu_too_large', `${podLabel(end)}'s interface MTU ${cali.mtu} is larger than the ${uplink.mtu - overhead} bytes ${facts.overlay.mode.toUpperCase()} leaves room for`, `${cali.name} mtu ${cali.mtu}, eth0 mtu ${uplink.mtu}`));
    }
  }
  return out;
}

const USABLE_NEIGHBOUR = new Set(['PERMANENT', 'REACHABLE', 'STALE', 'DELAY', 'PROBE', 'NOARP']);

/**
 * VXLAN needs, on the sending node, a neighbour entry for the remote tunnel address (its VTEP MAC) and an FDB entry
 * sending that MAC to the remote node — both programmed by Felix. Checked in both directions (the reply too).
 */
function vxlanPeerFindings(facts: TraceFacts, from: NodeFacts, to: NodeFacts, towardsIp: string): Finding[] {
  if (facts.overlay.mode !== 'vxlan' || !from.routes || !from.neighbours) return [];
  const route = lookupRoute(from.routes, towardsIp);
  if (!route?.gateway || route.device !== facts.overlay.device) return [];
  const neigh = from.neighbours.find((n) => n.ip === route.gateway && n.device === facts.overlay.device);
  if (!neigh?.lladdr || !neigh.state.some((s) => USABLE_NEIGHBOUR.has(s))) {
    return [err('tunnel_neighbour_missing', `${from.name} has no usable ARP entry for ${to.name}'s VXLAN tunnel address ${route.gateway}: it cannot encapsulate packets for ${towardsIp}`, neigh ? `${neigh.ip} dev ${neigh.device} ${neigh.lladdr ?? ''} ${neigh.state.join(' ')}`.replace(/ +/g, ' ') : `no neighbour entry for ${route.gateway} on ${facts.overlay.device}`)];
  }
  if (from.fdb && !from.fdb.some((e) => e.mac === neigh.lladdr && e.dst === to.ip)) {
    return [err('tunnel_fdb_missing', `${from.name} has no VXLAN forwarding entry sending ${neigh.lladdr} to ${to.name} (${to.ip})`, `bridge fdb on ${from.name}: ${from.fdb.map((e) => `${e.mac} dst ${e.dst}`).join(', ') || 'empty'}`)];
  }
  return [];
}

function listenerFindings(facts: TraceFacts): Finding[] {
  if (facts.testPort === null || facts.dst.listeners === null) return [];
  const loopback = loopbackOnlyListener(facts.dst.listeners, facts.testPort, podLabel(facts.dst));
  if (loopback) return [loopback];
  if (facts.dst.listeners.some((l) => l.port === facts.testPort)) return [];
  return [err('no_listener', `nothing listens on TCP port ${facts.testPort} inside ${podLabel(facts.dst)}`, `listening ports: ${listeningPorts(facts.dst.listeners).join(', ') || 'none'}`)];
}

/** The test connection's flow at a capture point (either direction). */
function testFlow(point: CapturePointFacts, srcIp: string, dstIp: string, port: number | null): ObservedFlow | null {
  return point.flows.find((f) => ((f.src === srcIp && f.dst === dstIp) || (f.src === dstIp && f.dst === srcIp)) && (port === null || f.dport === port || f.sport === port)) ?? null;
}

function captureFindings(facts: TraceFacts): Finding[] {
  const cap = facts.capture;
  const srcIp = facts.src.pod.podIP;
  const dstIp = facts.dst.pod.podIP;
  if (!cap || !srcIp || !dstIp) return [];
  const out: Finding[] = [];
  const at = (role: CapturePointFacts['role']) => cap.points.filter((p) => p.role === role && p.error === null);
  const seen = (role: CapturePointFacts['role']) => at(role).map((p) => ({ p, flow: testFlow(p, srcIp, dstIp, facts.testPort) }));
  const srcPod = seen('src-pod');
  const egress = [...seen('src-tunnel'), ...seen('src-uplink')];
  const ingress = seen('dst-tunnel');
  const label = (p: CapturePointFacts) => `${p.node}/${p.interface}`;
  const counts = (xs: { p: CapturePointFacts; flow: ObservedFlow | null }[]) => xs.map((x) => `${label(x.p)}: ${x.flow?.packets ?? 0} packets`).join(', ');

  const leftPod = srcPod.some((x) => x.flow);
  const leftNode = egress.some((x) => x.flow);
  const arrived = ingress.some((x) => x.flow);
  const throughTunnel = seen('src-tunnel').some((x) => x.flow);
  const bareOnUplink = seen('src-uplink').find((x) => x.flow && !x.flow.tunnel);
  if (srcPod.length > 0 && !leftPod && facts.testPort !== null) {
    out.push(err('no_packets_from_pod', `no packets from ${podLabel(facts.src)} to ${dstIp} were seen on ${facts.src.caliInterface}`, counts(srcPod)));
  } else if (facts.overlay.device && bareOnUplink && !throughTunnel) {
    out.push(err('not_encapsulated', `packets from ${podLabel(facts.src)} leave ${facts.src.node?.name} on ${bareOnUplink.p.interface} without ${facts.overlay.mode.toUpperCase()} encapsulation, so the network between the nodes sees pod addresses it cannot route`, counts([...srcPod, ...egress])));
  } else if (leftPod && egress.length > 0 && !leftNode && facts.overlay.device) {
    out.push(err('dropped_on_src_node', `packets from ${podLabel(facts.src)} reach ${facts.src.node?.name} but never leave it through ${facts.overlay.device}`, counts([...srcPod, ...egress])));
  } else if (leftNode && ingress.length > 0 && !arrived) {
    out.push(err('lost_between_nodes', `packets leave ${facts.src.node?.name} but never arrive at ${facts.dst.node?.name}`, counts([...egress, ...ingress])));
  }
  const tunnelled = egress.find((x) => x.flow?.tunnel);
  if (tunnelled?.flow?.tunnel) {
    const t = tunnelled.flow.tunnel;
    out.push(info('encapsulated', `on ${label(tunnelled.p)} the pods' packets travel inside ${t.type.toUpperCase()}${t.vni === null ? '' : ` (VNI ${t.vni})`} between the nodes ${t.outerSrc} → ${t.outerDst}`, `outer ${t.outerSrc} > ${t.outerDst}, inner ${srcIp} > ${dstIp}`));
  }
  const flow = [...srcPod, ...egress, ...ingress].map((x) => x.flow).find((f) => f?.proto === 'tcp') ?? null;
  if (flow) {
    if (flow.resets > 0 && flow.handshake !== 'complete') {
      out.push(err('connection_refused', `${podLabel(facts.dst)} answered the connection to port ${facts.testPort} with a reset: nothing accepts connections there`, `TCP flags seen: ${flow.tcpFlags.join(' ')}`));
    } else if (flow.handshake === 'syn-only') {
      out.push(err('no_syn_ack', `SYN sent to ${dstIp}:${facts.testPort} but no SYN-ACK came back`, `TCP flags seen: ${flow.tcpFlags.join(' ')}`));
    } else if (flow.handshake === 'complete') {
      out.push(info('handshake_ok', `TCP handshake with ${podLabel(facts.dst)}:${facts.testPort} completed`, `TCP flags seen: ${flow.tcpFlags.join(' ')}`));
    }
  }
  return out;
}

export function diagnoseTrace(facts: TraceFacts): Finding[] {
  const findings: Finding[] = [...podFindings(facts.src), ...podFindings(facts.dst)];
  const srcNode = facts.src.node;
  const dstNode = facts.dst.node;
  const nodes = [srcNode, dstNode].filter((n, i, all): n is NodeFacts => n !== null && all.findIndex((m) => m?.name === n.name) === i);
  for (const n of nodes) findings.push(...nodeFindings(n));
  if (facts.dst.pod.podIP && !facts.pool) {
    findings.push(warn('no_ip_pool', `${facts.dst.pod.podIP} is in no Calico IP pool`, 'no IPPool cidr contains the pod IP'));
  }
  findings.push(...caliFindings(facts.src), ...caliFindings(facts.dst));
  if (srcNode && dstNode) {
    const sameNode = srcNode.name === dstNode.name;
    findings.push(...routeFindings(facts, srcNode, dstNode, sameNode));
    if (!sameNode) {
      findings.push(...tunnelFindings(facts, nodes));
      if (facts.dst.pod.podIP) findings.push(...vxlanPeerFindings(facts, srcNode, dstNode, facts.dst.pod.podIP));
      if (facts.src.pod.podIP) findings.push(...vxlanPeerFindings(facts, dstNode, srcNode, facts.src.pod.podIP));
    }
  }
  findings.push(...listenerFindings(facts), ...captureFindings(facts));
  if (facts.overlay.mode !== 'none') {
    findings.push(info('overlay', `the pods are on different nodes; Calico carries their packets in ${facts.overlay.mode.toUpperCase()} over ${facts.overlay.device}`, facts.pool ? `IPPool ${facts.pool.name}: ${facts.pool.cidr} vxlanMode=${facts.pool.vxlanMode} ipipMode=${facts.pool.ipipMode}` : ''));
  }
  return findings;
}
