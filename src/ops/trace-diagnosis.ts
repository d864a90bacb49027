/**
 * Judges a trace: from the gathered facts to plain-language findings, each with the evidence line it rests on.
 * Pure. The order follows the packet: pods, the source node's route, tunnels, the destination node's route to
 * the pod, the listener, then what the capture saw on the wire.
 */
import { isIP } from 'node:net';
import { nestConsequences, type Finding } from '../model/report.ts';
import { cidrHolds } from '../net/ip-range.ts';
import { canonicalIp } from '../net/host-port.ts';
import { decisionEvidence, lookupRoute, routeDecision, type RouteDecision } from './route-lookup.ts';
import { conntrackTableFindings } from './conntrack-findings.ts';
import { interfaceManagerFindings } from './interface-manager-findings.ts';
import { OVERLAY_OVERHEAD } from '../calico/encapsulation.ts';
import { CALICO_VXLAN, calicoPodGateway } from '../calico/naming.ts';
import { listeningPorts } from '../parse/listeners.ts';
import { loopbackOnlyListener } from './loopback-listener.ts';
import { strictRpFilter, type PathVerdict } from './packet-path.ts';
import type { CapturePointFacts, NodeFacts, ObservedFlow, OverlayMode, PodEnd, TraceFacts } from './trace-facts.ts';
import type { EncapsulationSetting, IpPoolInfo } from '../cluster/types.ts';

const err = (code: string, message: string, evidence = ''): Finding => ({ severity: 'error', code, message, evidence });
const warn = (code: string, message: string, evidence = ''): Finding => ({
  severity: 'warning',
  code,
  message,
  evidence,
});
const info = (code: string, message: string, evidence = ''): Finding => ({ severity: 'info', code, message, evidence });

const NO_FORWARD_TYPES = new Set(['blackhole', 'unreachable', 'prohibit', 'throw']);

/** The kernel's route choice (both families, policy rules where given): route-lookup.ts. */
export { lookupRoute } from './route-lookup.ts';

export function poolFor(pools: readonly IpPoolInfo[], ip: string): IpPoolInfo | null {
  return pools.find((p) => cidrHolds(p.cidr, ip)) ?? null;
}

/** Which encapsulation Calico uses between two nodes for a pool (CrossSubnet encapsulates only across subnets). */
export function overlayBetween(
  pool: IpPoolInfo | null,
  sameNode: boolean,
  sameSubnet: boolean,
): { mode: OverlayMode; device: string | null } {
  if (!pool || sameNode) return { mode: 'none', device: null };
  const applies = (s: EncapsulationSetting) => s === 'Always' || (s === 'CrossSubnet' && !sameSubnet);
  // Felix's IPv6 VXLAN device is vxlan-v6.calico (there is no IP-in-IP for IPv6).
  if (applies(pool.vxlanMode))
    return { mode: 'vxlan', device: pool.cidr.includes(':') ? 'vxlan-v6.calico' : 'vxlan.calico' };
  if (applies(pool.ipipMode)) return { mode: 'ipip', device: 'tunl0' };
  return { mode: 'none', device: null };
}

function podLabel(end: PodEnd): string {
  return `${end.pod.namespace}/${end.pod.name}`;
}

function podFindings(end: PodEnd): Finding[] {
  const out: Finding[] = [];
  const p = end.pod;
  if (p.phase !== 'Running')
    out.push(err('pod_not_running', `${podLabel(end)} is ${p.phase}, not Running`, `status.phase: ${p.phase}`));
  else if (!p.ready)
    out.push(
      warn(
        'pod_not_ready',
        `${podLabel(end)} is Running but not Ready`,
        `containers: ${p.containers.map((c) => `${c.name} ready=${c.ready}`).join(', ')}`,
      ),
    );
  if (!p.podIP) out.push(err('pod_no_ip', `${podLabel(end)} has no pod IP yet`, 'status.podIP is empty'));
  if (p.hostNetwork)
    out.push(
      info(
        'host_network',
        `${podLabel(end)} uses the host network: no cali interface, traffic uses the node's address`,
        'spec.hostNetwork: true',
      ),
    );
  return out;
}

function nodeFindings(node: NodeFacts, overlayDevice: string | null): Finding[] {
  const out: Finding[] = [];
  if (node.error)
    out.push(err('node_unreachable', `could not inspect ${node.name} (${node.ip}): ${node.error}`, node.error));
  if (node.ipForward === false)
    out.push(
      err(
        'ip_forward_off',
        `IP forwarding is off on ${node.name}: it will not pass packets between pods and the network`,
        'net.ipv4.ip_forward = 0',
      ),
    );
  // The interfaces pod traffic arrives on: the uplink, and the tunnel device when the pods' packets are encapsulated.
  const ifaces = [node.uplink, overlayDevice].filter(
    (i): i is string => i !== null && (node.links?.some((l) => l.name === i) ?? true),
  );
  const strict = ifaces
    .map((i) => ({ i, line: strictRpFilter(node, i) }))
    .filter((x): x is { i: string; line: string } => x.line !== null);
  for (const { i, line } of strict) {
    out.push(
      warn(
        'rp_filter_strict',
        `strict reverse-path filtering on ${node.name}/${i}: a packet whose reply would leave by another interface is dropped silently (asymmetric paths, CrossSubnet, several uplinks)`,
        line,
      ),
    );
  }
  if (strict.length === 0 && ifaces.length === 0 && node.rpFilter.all === 1) {
    out.push(
      warn(
        'rp_filter_strict',
        `strict reverse-path filtering on ${node.name} (all interfaces) can drop pod traffic that arrives on a different interface than the reply would leave by`,
        'net.ipv4.conf.all.rp_filter = 1',
      ),
    );
  }
  out.push(...conntrackTableFindings(node.name, node.conntrack));
  out.push(...interfaceManagerFindings(node.name, node.interfaceManagers ?? null));
  if (overlayDevice === node.tunnelOffload?.device && node.tunnelOffload.txChecksumIpGeneric) {
    out.push(
      warn(
        'vxlan_checksum_offload_on',
        `${node.name}: checksum offload is on for ${node.tunnelOffload.device}; on some kernels and NICs it sends VXLAN packets with bad checksums that the other node drops (Calico turns it off by default since v3.28)`,
        `ethtool -k ${node.tunnelOffload.device}: ${node.tunnelOffload.line}`,
      ),
    );
  }
  return out;
}

function caliFindings(end: PodEnd): Finding[] {
  const node = end.node;
  if (!node?.links || end.pod.hostNetwork) return [];
  const cali = node.links.find((l) => l.name === end.caliInterface);
  if (!cali) {
    return [
      err(
        'cali_missing',
        `${end.caliInterface}, the host side of ${podLabel(end)}'s veth, does not exist on ${node.name}`,
        `interfaces on ${node.name}: ${
          node.links
            .filter((l) => l.name.startsWith('cali'))
            .map((l) => l.name)
            .join(', ') || 'no cali*'
        }`,
      ),
    ];
  }
  if (!cali.up)
    return [
      err('cali_down', `${end.caliInterface} (${podLabel(end)}) is down on ${node.name}`, `${cali.name} state DOWN`),
    ];
  return [];
}

/**
 * Pod traffic at a node's routing decision, as `ip rule` sees it: from the source pod, in on its cali interface (the
 * source node) or the tunnel / uplink (the destination node), with no mark — Felix marks packets in its filter
 * chains, after routing.
 */
export function podPacketDecision(
  facts: TraceFacts,
  node: NodeFacts,
  side: 'src' | 'dst',
  sameNode = facts.src.pod.nodeName === facts.dst.pod.nodeName,
): RouteDecision | null {
  const dstIp = facts.dst.pod.podIP;
  if (!dstIp || !node.routes) return null;
  const iif = side === 'src' || sameNode ? facts.src.caliInterface : (facts.overlay.device ?? node.uplink);
  return routeDecision(node.routes, dstIp, {
    rules: node.rules ?? null,
    from: facts.src.pod.podIP ?? null,
    iif: iif ?? null,
    fwmark: 0,
  });
}

/** A rule's own refusal, or a route the packet cannot be forwarded by: the problem says which, naming the rule. */
function refusal(d: RouteDecision, node: string, ip: string): string {
  if (d.refused) return `ip rule ${d.rule!.priority} (${d.refused}) refuses the packet`;
  if (d.route && d.rule && (d.route.table ?? 'main') !== 'main')
    return `table ${d.route.table} (ip rule ${d.rule.priority}) has a ${d.route.type} route for it`;
  if (d.route) return `its route is ${d.route.type}`;
  return `no route in ${node}'s tables matches ${ip}`;
}

/** Whether `gateway` is one of the node's own addresses (the one we reach it at, or one on its uplink). */
function isNodeAddress(node: NodeFacts, gateway: string | null): boolean {
  if (gateway === null) return false;
  const want = canonicalIp(gateway);
  return [node.ip, ...(node.underlayIPs ?? [])].some((a) => canonicalIp(a) === want);
}

function routeFindings(facts: TraceFacts, srcNode: NodeFacts, dstNode: NodeFacts, sameNode: boolean): Finding[] {
  const out: Finding[] = [];
  const dstIp = facts.dst.pod.podIP;
  const decision = podPacketDecision(facts, srcNode, 'src', sameNode);
  if (!dstIp || !decision) return out;
  const route = decision.route;
  const block = facts.pool ? ` (pool ${facts.pool.cidr})` : '';
  if (!route || NO_FORWARD_TYPES.has(route.type)) {
    const why = route || decision.refused ? `: ${refusal(decision, srcNode.name, dstIp)}` : '';
    out.push(
      err(
        'no_route_to_dst',
        `${srcNode.name} has no route to ${podLabel(facts.dst)} at ${dstIp}${block}${why}`,
        decisionEvidence(decision) ?? `no route in ${srcNode.name}'s table matches ${dstIp}`,
      ),
    );
  } else if (sameNode) {
    if (route.device !== facts.dst.caliInterface) {
      out.push(
        err(
          'wrong_route_to_local_pod',
          `${srcNode.name} routes ${dstIp} via ${route.device ?? route.gateway} instead of ${facts.dst.caliInterface}`,
          route.raw,
        ),
      );
    }
  } else if (facts.overlay.device && route.device !== facts.overlay.device) {
    const how =
      route.destination === 'default'
        ? 'the default route (out of the cluster network)'
        : `${route.device ?? route.gateway}`;
    out.push(
      err(
        'no_route_to_block',
        `${srcNode.name} has no route to ${dstNode.name}'s pod block through ${facts.overlay.device}: packets to ${dstIp} take ${how}`,
        route.raw,
      ),
    );
  } else if (facts.overlay.mode === 'none' && !isNodeAddress(dstNode, route.gateway)) {
    // Straight to the node: its address, or any address of its uplink in the pod's family (BIRD6's next hop is the
    // node's IPv6 address, which is not the one we reach it at).
    const family = isIP(dstIp);
    const address = dstNode.underlayIPs?.find((a) => isIP(a) === family && !a.startsWith('fe80:')) ?? dstNode.ip;
    out.push(
      warn(
        'unexpected_next_hop',
        `${srcNode.name} sends ${dstIp} to ${route.gateway ?? route.device} rather than straight to ${dstNode.name} (${address})`,
        route.raw,
      ),
    );
  }
  const toPod = sameNode ? null : podPacketDecision(facts, dstNode, 'dst', sameNode);
  if (toPod) {
    const back = toPod.route;
    if (!back || back.device !== facts.dst.caliInterface) {
      const why = !back || NO_FORWARD_TYPES.has(back.type) ? `: ${refusal(toPod, dstNode.name, dstIp)}` : '';
      out.push(
        err(
          'no_route_to_pod',
          `${dstNode.name} does not route ${dstIp} to ${facts.dst.caliInterface} (${podLabel(facts.dst)})${why}`,
          decisionEvidence(toPod) ?? `no route matches ${dstIp}`,
        ),
      );
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
    if (!link)
      out.push(
        err(
          'tunnel_missing',
          `${node.name} has no ${device} device, so it cannot send or receive ${facts.overlay.mode.toUpperCase()} traffic`,
          `no ${device} in ip link on ${node.name}`,
        ),
      );
    else if (!link.up) out.push(err('tunnel_down', `${device} is down on ${node.name}`, `${device} state DOWN`));
  }
  out.push(...mtuFindings(facts, nodes, device));
  return out;
}

/**
 * MTUs along the path: a pod MTU above its node's tunnel MTU, a tunnel MTU the uplink cannot carry with the overlay's
 * headers (OVERLAY_OVERHEAD) — worded as the underlay being too small when this node's uplink is smaller than the
 * other node's (the odd one out), else as the tunnel being set too large.
 */
function mtuFindings(facts: TraceFacts, nodes: NodeFacts[], device: string): Finding[] {
  const out: Finding[] = [];
  const overhead = OVERLAY_OVERHEAD[facts.overlay.mode];
  const mode = facts.overlay.mode.toUpperCase();
  const uplinkOf = (n: NodeFacts) => (n.uplink ? (n.links?.find((l) => l.name === n.uplink) ?? null) : null);
  for (const node of nodes) {
    const tunnel = node.links?.find((l) => l.name === device);
    const uplink = uplinkOf(node);
    if (!tunnel?.mtu || !uplink?.mtu || tunnel.mtu + overhead <= uplink.mtu) continue;
    const others = nodes
      .filter((n) => n !== node)
      .map(uplinkOf)
      .filter((l) => l?.mtu);
    const oddOneOut = others.some((o) => o!.mtu! > uplink.mtu!);
    const evidence = `${node.name}: ${device} mtu ${tunnel.mtu}, ${uplink.name} mtu ${uplink.mtu}${oddOneOut ? `; ${others.map((o) => `${o!.name} mtu ${o!.mtu}`).join(', ')} on the other node` : ''}`;
    if (oddOneOut) {
      out.push(
        err(
          'underlay_mtu_too_small',
          `the underlay MTU on ${node.name}/${uplink.name} (${uplink.mtu}) is below the ${tunnel.mtu + overhead} that ${mode} needs for ${device}'s MTU ${tunnel.mtu} plus ${overhead} bytes of headers: full-size packets between the pods are dropped`,
          evidence,
        ),
      );
    } else {
      out.push(
        err(
          'tunnel_mtu_above_uplink',
          `${device} on ${node.name} has MTU ${tunnel.mtu}, more than ${uplink.name}'s ${uplink.mtu} leaves room for after ${overhead} bytes of ${mode} headers (at most ${uplink.mtu - overhead}): full-size packets are dropped or fragmented`,
          evidence,
        ),
      );
    }
  }
  for (const end of [facts.src, facts.dst]) {
    const node = end.node;
    const tunnel = node?.links?.find((l) => l.name === device);
    const cali = node?.links?.find((l) => l.name === end.caliInterface);
    const inner = end.inside?.links.find((l) => l.name === 'eth0');
    const podMtu = Math.max(cali?.mtu ?? 0, inner?.mtu ?? 0);
    if (!node || !tunnel?.mtu || podMtu <= tunnel.mtu) continue;
    const lines = [
      cali?.mtu ? `${node.name}: ${cali.name} mtu ${cali.mtu}` : null,
      inner?.mtu ? `${end.pod.name}: eth0 mtu ${inner.mtu}` : null,
      `${node.name}: ${device} mtu ${tunnel.mtu}`,
    ].filter((l) => l !== null);
    out.push(
      err(
        'pod_mtu_above_tunnel',
        `${podLabel(end)}'s MTU ${podMtu} is larger than ${node.name}'s ${device} MTU ${tunnel.mtu}: its full-size packets cannot enter the tunnel`,
        lines.join(', '),
      ),
    );
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
    return [
      err(
        'tunnel_neighbour_missing',
        `${from.name} has no usable ARP entry for ${to.name}'s VXLAN tunnel address ${route.gateway}: it cannot encapsulate packets for ${towardsIp}`,
        neigh
          ? `${neigh.ip} dev ${neigh.device} ${neigh.lladdr ?? ''} ${neigh.state.join(' ')}`.replace(/ +/g, ' ')
          : `no neighbour entry for ${route.gateway} on ${facts.overlay.device}`,
      ),
    ];
  }
  // The outer destination is the remote node's uplink address of the traced family (IPv6 for vxlan-v6.calico).
  const endpoints = to.underlayIPs?.length ? to.underlayIPs : [to.ip];
  if (from.fdb && !from.fdb.some((e) => e.mac === neigh.lladdr && e.dst !== null && endpoints.includes(e.dst))) {
    return [
      err(
        'tunnel_fdb_missing',
        `${from.name} has no VXLAN forwarding entry sending ${neigh.lladdr} to ${to.name} (${endpoints.join(', ')})`,
        `bridge fdb on ${from.name}: ${from.fdb.map((e) => `${e.mac} dst ${e.dst}`).join(', ') || 'empty'}`,
      ),
    ];
  }
  return [];
}

function listenerFindings(facts: TraceFacts): Finding[] {
  if (facts.testPort === null || facts.dst.listeners === null) return [];
  const loopback = loopbackOnlyListener(facts.dst.listeners, facts.testPort, podLabel(facts.dst));
  if (loopback) return [loopback];
  if (facts.dst.listeners.some((l) => l.port === facts.testPort)) return [];
  return [
    err(
      'no_listener',
      `nothing listens on TCP port ${facts.testPort} inside ${podLabel(facts.dst)}`,
      `listening ports: ${listeningPorts(facts.dst.listeners).join(', ') || 'none'}`,
    ),
  ];
}

/** The test connection's flow at a capture point (either direction). */
function testFlow(point: CapturePointFacts, srcIp: string, dstIp: string, port: number | null): ObservedFlow | null {
  return (
    point.flows.find(
      (f) =>
        ((f.src === srcIp && f.dst === dstIp) || (f.src === dstIp && f.dst === srcIp)) &&
        (port === null || f.dport === port || f.sport === port),
    ) ?? null
  );
}

function captureFindings(facts: TraceFacts): Finding[] {
  const cap = facts.capture;
  const srcIp = facts.src.pod.podIP;
  const dstIp = facts.dst.pod.podIP;
  if (!cap || !srcIp || !dstIp) return [];
  const out: Finding[] = [];
  const at = (role: CapturePointFacts['role']) => cap.points.filter((p) => p.role === role && p.error === null);
  const seen = (role: CapturePointFacts['role']) =>
    at(role).map((p) => ({ p, flow: testFlow(p, srcIp, dstIp, facts.testPort) }));
  const srcPod = seen('src-pod');
  const egress = [...seen('src-tunnel'), ...seen('src-uplink')];
  const ingress = [...seen('dst-uplink'), ...seen('dst-tunnel'), ...seen('dst-pod')];
  const label = (p: CapturePointFacts) => `${p.node}/${p.interface}`;
  const counts = (xs: { p: CapturePointFacts; flow: ObservedFlow | null }[]) =>
    xs.map((x) => `${label(x.p)}: ${x.flow?.packets ?? 0} packets`).join(', ');

  const leftPod = srcPod.some((x) => x.flow);
  const leftNode = egress.some((x) => x.flow);
  const arrived = ingress.some((x) => x.flow);
  const throughTunnel = seen('src-tunnel').some((x) => x.flow);
  const bareOnUplink = seen('src-uplink').find((x) => x.flow && !x.flow.tunnel);
  if (srcPod.length > 0 && !leftPod && facts.testPort !== null) {
    out.push(
      err(
        'no_packets_from_pod',
        `no packets from ${podLabel(facts.src)} to ${dstIp} were seen on ${facts.src.caliInterface}`,
        counts(srcPod),
      ),
    );
  } else if (facts.overlay.device && bareOnUplink && !throughTunnel) {
    out.push(
      err(
        'not_encapsulated',
        `packets from ${podLabel(facts.src)} leave ${facts.src.node?.name} on ${bareOnUplink.p.interface} without ${facts.overlay.mode.toUpperCase()} encapsulation, so the network between the nodes sees pod addresses it cannot route`,
        counts([...srcPod, ...egress]),
      ),
    );
  }
  // Where the packets stop, hop by hop and in both directions, is packet-path.ts's verdict.
  void leftNode;
  void arrived;
  const tunnelled = egress.find((x) => x.flow?.tunnel);
  if (tunnelled?.flow?.tunnel) {
    const t = tunnelled.flow.tunnel;
    out.push(
      info(
        'encapsulated',
        `on ${label(tunnelled.p)} the pods' packets travel inside ${t.type.toUpperCase()}${t.vni === null ? '' : ` (VNI ${t.vni})`} between the nodes ${t.outerSrc} → ${t.outerDst}`,
        `outer ${t.outerSrc} > ${t.outerDst}, inner ${srcIp} > ${dstIp}`,
      ),
    );
  }
  const flow = [...srcPod, ...egress, ...ingress].map((x) => x.flow).find((f) => f?.proto === 'tcp') ?? null;
  if (flow) {
    if (flow.resets > 0 && flow.handshake !== 'complete') {
      out.push(
        err(
          'connection_refused',
          `${podLabel(facts.dst)} answered the connection to port ${facts.testPort} with a reset: nothing accepts connections there`,
          `TCP flags seen: ${flow.tcpFlags.join(' ')}`,
        ),
      );
    } else if (flow.handshake === 'syn-only') {
      out.push(
        err(
          'no_syn_ack',
          `SYN sent to ${dstIp}:${facts.testPort} but no SYN-ACK came back`,
          `TCP flags seen: ${flow.tcpFlags.join(' ')}`,
        ),
      );
    } else if (flow.handshake === 'complete') {
      out.push(
        info(
          'handshake_ok',
          `TCP handshake with ${podLabel(facts.dst)}:${facts.testPort} completed`,
          `TCP flags seen: ${flow.tcpFlags.join(' ')}`,
        ),
      );
    }
  }
  return out;
}

const USABLE_GATEWAY = new Set(['PERMANENT', 'REACHABLE', 'STALE', 'DELAY', 'PROBE', 'NOARP']);

/**
 * Inside the pod's own namespace, what Calico's CNI plugin sets up: eth0 up, the pod IP on it, `default via
 * 169.254.1.1 dev eth0` (with the gateway's on-link route) and a neighbour entry that resolves the gateway (answered by
 * proxy ARP on the cali side). Each missing piece is a problem with the line that shows it.
 */
function podInsideFindings(end: PodEnd, facts: TraceFacts): Finding[] {
  if (end.netnsSteps && end.node && !end.node.error && !end.pod.hostNetwork) {
    return [
      warn(
        'pod_netns_not_found',
        `could not find ${podLabel(end)}'s network namespace on ${end.node.name}: nothing was read inside it${end === facts.src ? ' and no test connection was made from it' : ''}`,
        end.netnsSteps.join('; ') || 'no step said why',
      ),
    ];
  }
  const inside = end.inside;
  if (!inside || end.pod.hostNetwork) return [];
  const who = podLabel(end);
  if (inside.error)
    return [warn('pod_netns_unreadable', `could not read ${who}'s network namespace: ${inside.error}`, inside.error)];
  const eth0 = inside.links.find((l) => l.name === 'eth0');
  if (!eth0)
    return [
      err(
        'pod_eth0_missing',
        `${who} has no eth0 in its network namespace`,
        `links in ${end.netns ?? 'the pod netns'}: ${inside.links.map((l) => l.name).join(', ') || 'none'}`,
      ),
    ];
  if (!eth0.up)
    return [err('pod_eth0_down', `eth0 is down inside ${who}`, 'eth0 state DOWN (ip link, inside the pod)')];
  const out: Finding[] = [];
  const ip = end.pod.podIP;
  const addrs = inside.addresses.eth0 ?? [];
  const family = inside.family ?? 4;
  const gateway = calicoPodGateway(family);
  // IPv6 pods resolve the gateway by NDP, which the host answers for its own link-local address (no proxy).
  const unanswered =
    family === 6
      ? `${end.caliInterface} does not answer neighbour solicitations for it`
      : `the cali side does not answer ARP (proxy_arp off on ${end.caliInterface}?)`;
  if (ip && !addrs.some((a) => a.split('/')[0] === ip))
    out.push(
      err(
        'pod_address_missing',
        `${who}'s eth0 does not hold its pod IP ${ip}`,
        `eth0: ${addrs.join(', ') || `no IPv${family} address`} (ip addr, inside the pod)`,
      ),
    );
  const routeText = inside.routeText.trim() || `(no IPv${family} routes)`;
  const def = inside.routes.find((r) => r.destination === 'default');
  if (!def) {
    out.push(
      err(
        'pod_default_route_missing',
        `${who} has no ${family === 6 ? 'IPv6 ' : ''}default route: it cannot send to anything off its own link (Calico's is default via ${gateway} dev eth0)`,
        `ip -${family} route inside ${who}:\n${routeText}`,
      ),
    );
  } else if (def.gateway !== gateway || def.device !== 'eth0') {
    out.push(
      err(
        'pod_default_route_wrong',
        `${who}'s default route is not Calico's (default via ${gateway} dev eth0)`,
        def.raw,
      ),
    );
  } else {
    const gw = inside.neighbours.find((n) => n.ip === gateway && (n.device ?? 'eth0') === 'eth0');
    const line = gw
      ? `${gw.ip} dev ${gw.device ?? 'eth0'}${gw.lladdr ? ` lladdr ${gw.lladdr}` : ''} ${gw.state.join(' ')}`.trim()
      : '';
    if (gw && !gw.state.some((st) => USABLE_GATEWAY.has(st))) {
      out.push(
        err(
          'pod_gateway_unresolved',
          `${who} cannot resolve its gateway ${gateway}: ${unanswered}`,
          `${line} (ip neigh, inside the pod)`,
        ),
      );
    } else if (!gw && end === facts.src && facts.testPort !== null) {
      out.push(
        warn(
          'pod_gateway_unresolved',
          `${who} has no neighbour entry for its gateway ${gateway} after the test connection`,
          `ip neigh inside ${who}: no entry for ${gateway}`,
        ),
      );
    }
  }
  return out;
}

/**
 * UDP datagrams (VXLAN's outer header included) whose checksum does not verify, arriving on the destination node's
 * uplink. Only a suspect: virtual NICs (veth, virtio) hand packets over with the sender's offloaded checksum still
 * unfinished and the kernel accepts them. So: information when the packets went on into the tunnel, a warning when
 * they did not (the path verdict then names the checksums as the likely reason).
 */
function checksumFindings(facts: TraceFacts): Finding[] {
  const out: Finding[] = [];
  const points = facts.capture?.points ?? [];
  const passedOn = points.some(
    (p) =>
      p.role === 'dst-tunnel' &&
      p.error === null &&
      p.flows.some((f) => f.src === facts.src.pod.podIP || f.dst === facts.src.pod.podIP),
  );
  for (const p of points) {
    if (p.role !== 'dst-uplink' || !p.badUdpChecksums) continue;
    const n = p.badUdpChecksums;
    const evidence = `${p.node}/${p.interface}: ${n} UDP checksum${n === 1 ? '' : 's'} that do not verify in the capture`;
    if (passedOn)
      out.push(
        info(
          'udp_checksums_unverified',
          `${n} UDP packet${n === 1 ? '' : 's'} on ${p.node}/${p.interface} carry checksums that do not verify, yet went on into ${facts.overlay.device ?? 'the node'}: offloaded checksums a virtual NIC handed over unfinished, not a fault`,
          evidence,
        ),
      );
    else
      out.push(
        warn(
          'bad_udp_checksums',
          `${n} UDP packet${n === 1 ? '' : 's'} arrived on ${p.node}/${p.interface} with checksums that do not verify and went no further: unless a rule on the node dropped them (see where the packets stop), suspect the sender's checksum offload (ethtool -k ${facts.overlay.device ?? CALICO_VXLAN.device})`,
          evidence,
        ),
      );
  }
  return out;
}

export function diagnoseTrace(facts: TraceFacts): Finding[] {
  const findings: Finding[] = [...podFindings(facts.src), ...podFindings(facts.dst)];
  const srcNode = facts.src.node;
  const dstNode = facts.dst.node;
  const nodes = [srcNode, dstNode].filter(
    (n, i, all): n is NodeFacts => n !== null && all.findIndex((m) => m?.name === n.name) === i,
  );
  for (const n of nodes) findings.push(...nodeFindings(n, facts.overlay.device));
  findings.push(...podInsideFindings(facts.src, facts), ...podInsideFindings(facts.dst, facts));
  findings.push(...checksumFindings(facts));
  if (facts.dst.pod.podIP && !facts.pool) {
    findings.push(
      warn('no_ip_pool', `${facts.dst.pod.podIP} is in no Calico IP pool`, 'no IPPool cidr contains the pod IP'),
    );
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
    findings.push(
      info(
        'overlay',
        `the pods are on different nodes; Calico carries their packets in ${facts.overlay.mode.toUpperCase()} over ${facts.overlay.device}`,
        facts.pool
          ? `IPPool ${facts.pool.name}: ${facts.pool.cidr} vxlanMode=${facts.pool.vxlanMode} ipipMode=${facts.pool.ipipMode}`
          : '',
      ),
    );
  }
  return findings;
}

/** What a failed connection looks like from the outside: shown under the cause that explains it, never counted again. */
const SYMPTOMS = new Set(['no_syn_ack', 'no_packets_from_pod', 'connection_refused']);
/** Causes a refused connection follows from (anything else leaves the reset its own finding). */
const REFUSAL_CAUSES = new Set(['listener_loopback_only', 'no_listener']);

/**
 * Puts what follows under its cause: the node findings a path verdict already names (the counted drop, forwarding
 * off, strict rp_filter on that node) under the verdict, and the symptoms (no SYN-ACK, nothing left the pod, the
 * reset) under the first problem that explains them — path verdicts first. The headline then counts causes.
 */
export function nestTraceFindings(findings: readonly Finding[], verdicts: readonly PathVerdict[]): Finding[] {
  const verdictOf = new Map(verdicts.map((v) => [v.finding, v]));
  const ordered = [
    ...verdicts.map((v) => v.finding).filter((f) => findings.includes(f)),
    ...findings.filter((f) => !verdictOf.has(f)),
  ];
  return nestConsequences(ordered, (cause, f) => {
    if (cause.severity !== 'error' || SYMPTOMS.has(cause.code)) return false;
    const v = verdictOf.get(cause);
    if (v && v.explains.has(f.code) && (v.node === null || f.message.includes(v.node))) return true;
    // The allowlist's drop counting the test's packets is that cause's evidence, not a second drop.
    if (cause.code === 'tunnel_source_not_allowed' && f.code === 'drop_rule_counted')
      return cause.evidence.split('\n').includes(f.evidence);
    if (f.code === 'connection_refused') return REFUSAL_CAUSES.has(cause.code);
    return SYMPTOMS.has(f.code);
  });
}
