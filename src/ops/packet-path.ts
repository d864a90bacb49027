/**
 * Where the packets die: the test connection's packets counted at every capture point along the path (source pod's
 * cali, source tunnel, source uplink, destination uplink, destination tunnel, destination pod's cali), in both
 * directions, and the last point that saw them named together with the first that did not — with what on that node
 * explains it (a counted drop, FORWARD policy DROP, INPUT dropping VXLAN, forwarding off, strict rp_filter, bad
 * checksums). Pure: reads the trace's facts and each node's counter growth.
 */
import type { Finding } from '../model/report.ts';
import type { CounterDiff } from '../parse/iptables-counters.ts';
import type { HostKiller } from '../calico/felix-chains.ts';
import { CALICO_VXLAN } from '../calico/naming.ts';
import { counterTool, type AllowlistReading } from './enforcement-facts.ts';
import { cidrContains, parseCidr, parseIp } from '../policy/cidr.ts';
import {
  HOP_ORDER,
  type CapturePointFacts,
  type HopRole,
  type NodeFacts,
  type ObservedFlow,
  type TraceFacts,
} from './trace-facts.ts';

/** One node's host firewall as the trace read it: counter growth during the test and the rules that kill Calico traffic. */
export interface NodeFirewallFacts {
  node: string;
  diff: CounterDiff | null;
  killers: HostKiller[];
  /** Why the counters could not be compared (iptables-save -c failed before or after), else null. */
  error?: string | null;
  /** The family the rules were read in (absent: 4; 6 means ip6tables-save). */
  family?: 4 | 6;
  /** Felix's allowlists for the path's tunnel (cali-INPUT) and their sets' members (absent: none read). */
  allowlists?: AllowlistReading[];
}

const TUNNEL_NAME = { vxlan: 'VXLAN', ipip: 'IP-in-IP' } as const;

/** Whether `ip` is a member of a hash:net set (an address, or a network holding it). */
function listedIn(members: readonly string[], ip: string): boolean {
  const within = (member: string, addr: string) => {
    try {
      return cidrContains(parseCidr(member, 'ipset member'), parseIp(addr, 'address'));
    } catch {
      return false;
    }
  };
  return members.some((m) => within(m, ip));
}

/** What the allowlist check needs of a node: its name, address and its uplink's addresses. */
export type TunnelSender = Pick<NodeFacts, 'name' | 'ip' | 'underlayIPs'>;

/**
 * Whether any address the node may send tunnel packets from is in the set: its address and its uplink's (a node
 * reached over SSH at another address, or with several on the uplink, is not judged by one of them alone).
 */
function senderListed(members: readonly string[], node: TunnelSender): boolean {
  return [node.ip, ...(node.underlayIPs ?? [])].some((ip) => listedIn(members, ip));
}

/** The set's members as the evidence shows them, after the command they came from. */
const membersLine = (reading: AllowlistReading, members: readonly string[]) =>
  `${reading.source}: ${members.length > 0 ? members.join(', ') : 'no members'}`;

/** A path finding and the node-level findings it already names (shown under it, not counted again). */
export interface PathVerdict {
  finding: Finding;
  /** The node the packets died on (null: between the nodes). */
  node: string | null;
  /** Codes of that node's findings this verdict explains (matched with the node's name in their message). */
  explains: ReadonlySet<string>;
}

interface Hop {
  role: HopRole;
  point: CapturePointFacts;
  forward: number;
  reverse: number;
  flow: ObservedFlow | null;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The test connection's flow at a point (either direction), counted per direction. */
function hopOf(role: HopRole, point: CapturePointFacts, srcIp: string, dstIp: string, port: number | null): Hop {
  const flow =
    point.flows.find(
      (f) =>
        ((f.src === srcIp && f.dst === dstIp) || (f.src === dstIp && f.dst === srcIp)) &&
        (port === null || f.dport === port || f.sport === port),
    ) ?? null;
  if (!flow) return { role, point, forward: 0, reverse: 0, flow: null };
  const fromSrc = flow.packetsFromSrc ?? flow.packets;
  const fromDst = flow.packetsFromDst ?? 0;
  return flow.src === srcIp
    ? { role, point, forward: fromSrc, reverse: fromDst, flow }
    : { role, point, forward: fromDst, reverse: fromSrc, flow };
}

function label(h: Hop, facts: TraceFacts): string {
  const pod = h.role === 'src-pod' ? facts.src : h.role === 'dst-pod' ? facts.dst : null;
  return `${h.point.node}/${h.point.interface}${pod ? ` (${pod.pod.name}'s cali)` : ''}`;
}

/** "3 SYN" while the request side only ever sent SYNs, "3 SYN-ACK" for an answer that only ever was one. */
function what(h: Hop, direction: 'forward' | 'reverse'): string {
  const n = direction === 'forward' ? h.forward : h.reverse;
  const flags = h.flow?.tcpFlags ?? [];
  if (direction === 'forward' && h.flow?.handshake === 'syn-only' && !flags.includes('RST')) return `${n} SYN`;
  if (direction === 'reverse' && flags.includes('SYN-ACK') && h.flow?.handshake !== 'complete') return `${n} SYN-ACK`;
  return plural(n, 'packet');
}

function trail(hops: readonly Hop[], direction: 'forward' | 'reverse', facts: TraceFacts): string {
  return (
    hops
      .map((h) => `${h.point.node}/${h.point.interface}: ${direction === 'forward' ? h.forward : h.reverse}`)
      .join(' → ') +
    (facts.testPort === null
      ? ''
      : ` (packets of the test connection to port ${facts.testPort}, ${direction === 'forward' ? 'request' : 'reply'} direction)`)
  );
}

/** What on `node` explains packets dying there, most specific first: the counted drop, then settings that drop silently. */
function explanation(
  node: NodeFacts | null,
  fw: NodeFirewallFacts | undefined,
  stage: 'input' | 'forward',
  arrivedOn: Hop,
  sender: NodeFacts | null,
): { text: string; evidence: string; codes: string[] } | null {
  const diff = fw?.diff;
  const forwardPolicy = diff?.policies.find(
    (p) => p.drop && p.packets > 0 && p.table === 'filter' && p.chain === 'FORWARD',
  );
  const inputPolicy = diff?.policies.find(
    (p) => p.drop && p.packets > 0 && p.table === 'filter' && p.chain === 'INPUT',
  );
  const rpfilter = diff?.rules.find((r) => r.drop !== null && r.packets > 0 && /-m rpfilter/.test(r.raw));
  const rules = (diff?.rules ?? []).filter((r) => r.drop !== null && r.packets > 0 && r !== rpfilter);
  const tunnelKiller = fw?.killers.find(
    (k) =>
      (k.kind === 'input-drops-vxlan' || k.kind === 'input-drops-ipip') && rules.some((r) => r.raw === k.rule?.raw),
  );
  // Felix's own allowlist drop: the sender is not among the hosts Calico lets tunnel in.
  const allowlisted = stage === 'input' ? fw?.allowlists?.find((a) => rules.some((r) => r.raw === a.allowlist.drop.raw)) : undefined; // prettier-ignore
  if (allowlisted) {
    const r = rules.find((x) => x.raw === allowlisted.allowlist.drop.raw)!;
    const { set, tunnel } = allowlisted.allowlist;
    const unlisted = allowlisted.members && sender && !senderListed(allowlisted.members, sender);
    return {
      text: unlisted
        ? `Calico drops ${TUNNEL_NAME[tunnel]} from ${sender.name} (${sender.ip}): Felix's ${set} does not list it (${plural(r.packets, 'packet')} counted)`
        : `Calico's allowlist rule dropped ${plural(r.packets, `${TUNNEL_NAME[tunnel]} packet`)} from a host not in ${set}`,
      evidence: `[+${r.packets}] ${r.raw}${allowlisted.members ? `\n${membersLine(allowlisted, allowlisted.members)}` : ''}`,
      codes: ['tunnel_source_not_allowed', 'drop_rule_counted'],
    };
  }
  if (stage === 'input' && tunnelKiller) {
    const r = rules.find((x) => x.raw === tunnelKiller.rule?.raw)!;
    return {
      text: `${tunnelKiller.description} counted ${plural(r.packets, 'packet')}`,
      evidence: `[+${r.packets}] ${r.raw}`,
      codes: ['input_drops_tunnel', 'drop_rule_counted'],
    };
  }
  if (stage === 'forward' && forwardPolicy) {
    return {
      text: `FORWARD policy DROP counted ${plural(forwardPolicy.packets, 'packet')}`,
      evidence: `:FORWARD DROP — ${plural(forwardPolicy.packets, 'packet')} counted (${counterTool(fw?.family)}, before → after)`,
      codes: ['chain_policy_dropped', 'forward_policy_drop'],
    };
  }
  if (stage === 'input' && inputPolicy) {
    return {
      text: `INPUT policy DROP counted ${plural(inputPolicy.packets, 'packet')}`,
      evidence: `:INPUT DROP — ${plural(inputPolicy.packets, 'packet')} counted (${counterTool(fw?.family)}, before → after)`,
      codes: ['chain_policy_dropped'],
    };
  }
  if (rpfilter) {
    return {
      text: `the reverse-path filter dropped ${plural(rpfilter.packets, 'packet')}`,
      evidence: `[+${rpfilter.packets}] ${rpfilter.raw}`,
      codes: ['rp_filter_strict', 'drop_rule_counted'],
    };
  }
  const rule = rules[0];
  if (rule) {
    const felix = rule.comments.some((c) => /Drop if no (policies|profiles)/i.test(c));
    return {
      text: felix
        ? `Calico dropped ${plural(rule.packets, 'packet')} in ${rule.chain}: no network policy allowed them`
        : `a ${rule.drop === 'reject' ? 'REJECT' : 'DROP'} rule in ${rule.table}/${rule.chain} counted ${plural(rule.packets, 'packet')}`,
      evidence: `[+${rule.packets}] ${rule.raw}`,
      codes: ['drop_rule_counted', 'policy_drop_counted', 'input_drops_tunnel'],
    };
  }
  if (stage === 'forward' && node?.ipForward === false)
    return { text: 'IP forwarding is off', evidence: 'net.ipv4.ip_forward = 0', codes: ['ip_forward_off'] };
  // Bad checksums explain a loss only where nothing else does: virtual NICs show unfinished offloaded checksums too,
  // so a node whose rules could not be read (one of them may have dropped the packets) is not blamed on them.
  if (
    stage === 'input' &&
    (arrivedOn.point.badUdpChecksums ?? 0) > 0 &&
    fw !== undefined &&
    !fw.error &&
    !fw.killers.some((k) => k.kind === 'input-drops-vxlan' || k.kind === 'input-drops-ipip')
  ) {
    return {
      text: `${plural(arrivedOn.point.badUdpChecksums!, 'packet')} arrived with bad UDP checksums, which the kernel drops (the sender's checksum offload: ethtool -k ${CALICO_VXLAN.device})`,
      evidence: `${arrivedOn.point.node}/${arrivedOn.point.interface}: ${plural(arrivedOn.point.badUdpChecksums!, 'bad UDP checksum')}`,
      codes: ['bad_udp_checksums', 'vxlan_checksum_offload_on'],
    };
  }
  const strict = node ? strictRpFilter(node, arrivedOn.point.interface) : null;
  if (strict)
    return {
      text: `strict reverse-path filtering on ${arrivedOn.point.interface}`,
      evidence: strict,
      codes: ['rp_filter_strict'],
    };
  if (fw?.killers.some((k) => k.kind === 'forward-policy-drop') && stage === 'forward') {
    return {
      text: 'FORWARD policy is DROP',
      evidence: `:FORWARD DROP (${counterTool(fw?.family)})`,
      codes: ['forward_policy_drop'],
    };
  }
  return null;
}

/** The sysctl line that makes `iface` strict (the kernel applies the larger of `all` and the interface), or null. */
export function strictRpFilter(node: NodeFacts, iface: string): string | null {
  const all = node.rpFilter.all ?? 0;
  const own = node.rpFilter[iface];
  if (Math.max(all, own ?? 0) !== 1) return null;
  if (own === 1) return `net.ipv4.conf.${iface.replaceAll('.', '/')}.rp_filter = 1`;
  return `net.ipv4.conf.all.rp_filter = 1 (net.ipv4.conf.${iface.replaceAll('.', '/')}.rp_filter = ${own ?? '?'})`;
}

/**
 * Where between `from` (last point that saw the packets) and `to` (the next that did not) they died, and what the
 * node there shows. `direction` picks which side's packets are followed.
 */
function verdictBetween(
  facts: TraceFacts,
  from: Hop,
  to: Hop,
  direction: 'forward' | 'reverse',
  hops: readonly Hop[],
  firewalls: readonly NodeFirewallFacts[],
): PathVerdict {
  const seen = `seen on ${label(from, facts)} (${what(from, direction)}), never on ${label(to, facts)}`;
  const where = trail(hops, direction, facts);
  const reply = direction === 'reverse';
  const prefix = reply
    ? `${facts.testPort === null ? 'the request' : 'the SYN'} reaches the pod but the ${from.flow?.tcpFlags.includes('SYN-ACK') ? 'SYN-ACK' : 'reply'} dies on the way back: `
    : '';
  const code = (base: string) => (reply ? 'reply_lost' : base);
  if (from.point.node !== to.point.node) {
    const overlay =
      facts.overlay.mode === 'vxlan'
        ? `UDP ${CALICO_VXLAN.port}`
        : facts.overlay.mode === 'ipip'
          ? 'IP protocol 4'
          : 'routes to the pod CIDR, source/destination checks';
    return {
      finding: {
        severity: 'error',
        code: code('lost_between_nodes'),
        message: `${prefix}${seen}: lost between the nodes (underlay or cloud firewall: ${overlay})`,
        evidence: where,
      },
      node: null,
      explains: new Set(),
    };
  }
  const nodeName = from.point.node;
  const node = [facts.src.node, facts.dst.node].find((n) => n?.name === nodeName) ?? null;
  const fw = firewalls.find((f) => f.node === nodeName);
  // Between an uplink and the tunnel the packet is addressed to the node itself (INPUT, then decapsulation);
  // everything else on a node is forwarded (FORWARD) or the node's own encapsulated output.
  const stage = from.role.endsWith('uplink') && to.role.endsWith('tunnel') ? 'input' : 'forward';
  const sender = [facts.src.node, facts.dst.node].find((n) => n !== null && n.name !== nodeName) ?? null;
  const why = explanation(node, fw, stage, from, sender);
  const base = nodeName === facts.src.node?.name ? 'dropped_on_src_node' : 'dropped_on_dst_node';
  // Without counters the node's rules cannot be named: say so rather than leave the reader guessing.
  const unread = !why && fw?.error ? ` (its iptables counters could not be read: ${fw.error})` : '';
  return {
    finding: {
      severity: 'error',
      code: code(base),
      message: `${prefix}${seen}: dropped on ${nodeName}${why ? ` — ${why.text}` : unread}`,
      evidence: why ? `${where}\n${why.evidence}` : where,
    },
    node: nodeName,
    // Unverified checksums on the uplink where the packets stopped are shown under whatever stopped them.
    explains: new Set([...(why?.codes ?? []), ...(stage === 'input' ? ['bad_udp_checksums'] : [])]),
  };
}

/** The verdicts for the request and, when it reached the pod, for the reply. Empty when there was no capture or test. */
export function packetPathVerdicts(facts: TraceFacts, firewalls: readonly NodeFirewallFacts[]): PathVerdict[] {
  const cap = facts.capture;
  const srcIp = facts.src.pod.podIP;
  const dstIp = facts.dst.pod.podIP;
  if (!cap || !srcIp || !dstIp || facts.testPort === null) return [];
  const hops = HOP_ORDER.flatMap((role) =>
    cap.points
      .filter((p) => p.role === role && p.error === null)
      .map((p) => hopOf(role, p, srcIp, dstIp, facts.testPort)),
  );
  if (hops.length < 2) return [];
  const out: PathVerdict[] = [];
  const lastForward = hops.findLastIndex((h) => h.forward > 0);
  // Nothing even at the first point is the source pod's own problem (no_packets_from_pod and the pod's namespace findings).
  if (lastForward < 0) return out;
  if (lastForward < hops.length - 1) {
    out.push(verdictBetween(facts, hops[lastForward]!, hops[lastForward + 1]!, 'forward', hops, firewalls));
    return out;
  }
  const back = [...hops].reverse();
  const firstReply = back[0]!;
  if (firstReply.reverse === 0) {
    out.push({
      finding: {
        severity: 'error',
        code: 'pod_no_answer',
        message: `${facts.testPort === null ? 'the request' : 'the SYN'} reaches ${facts.dst.pod.namespace}/${facts.dst.pod.name} (${what(firstReply, 'forward')} on ${label(firstReply, facts)}) but the pod never answers: a firewall inside the pod, or the application does not accept`,
        evidence: trail(hops, 'forward', facts),
      },
      node: null,
      explains: new Set(),
    });
    return out;
  }
  const lastReverse = back.findLastIndex((h) => h.reverse > 0);
  if (lastReverse < back.length - 1)
    out.push(verdictBetween(facts, back[lastReverse]!, back[lastReverse + 1]!, 'reverse', back, firewalls));
  return out;
}

/**
 * Host rules that stop Calico's data plane (felix-chains.ts hostKillers), judged with the test's counter growth: a
 * FORWARD policy DROP or an INPUT rule dropping the overlay's packets is a problem when it counted the test's packets,
 * and a warning otherwise (the rule is there; this connection did not meet it, another path may).
 */
export function firewallFindings(
  firewalls: readonly NodeFirewallFacts[],
  overlay: TraceFacts['overlay']['mode'],
  testRan: boolean,
): Finding[] {
  const out: Finding[] = [];
  for (const fw of firewalls) {
    for (const k of fw.killers) {
      if (k.kind === 'forward-policy-drop') {
        const grew = fw.diff?.policies.find((p) => p.chain === 'FORWARD' && p.table === 'filter' && p.packets > 0);
        // A counted FORWARD drop is chain_policy_dropped already (enforcement-facts.ts); without growth it is a risk.
        if (!grew)
          out.push({
            severity: testRan ? 'info' : 'warning',
            code: 'forward_policy_drop',
            message: `${fw.node}: the filter table's FORWARD policy is DROP: pod traffic that no rule accepts is dropped there${testRan ? " (it counted none of the test connection's packets)" : ''}`,
            evidence: `:FORWARD DROP [${k.counters ? `${k.counters.packets}:${k.counters.bytes}` : '?'}] (${counterTool(fw.family)})`,
          });
        continue;
      }
      const tunnel = k.kind === 'input-drops-vxlan' ? 'vxlan' : k.kind === 'input-drops-ipip' ? 'ipip' : null;
      if (tunnel === null || tunnel !== overlay || !k.rule) continue;
      const grew = fw.diff?.rules.find((r) => r.raw === k.rule!.raw && r.packets > 0);
      out.push({
        severity: grew ? 'error' : 'warning',
        code: 'input_drops_tunnel',
        message: `${fw.node}: ${k.description}: ${tunnel === 'vxlan' ? `VXLAN (UDP ${CALICO_VXLAN.port})` : 'IP-in-IP (protocol 4)'} from the other nodes is dropped before Calico decapsulates it${grew ? ` — counted ${plural(grew.packets, 'packet')} of the test connection` : ''}`,
        evidence: grew ? `[+${grew.packets}] ${grew.raw}` : k.rule.raw,
      });
    }
  }
  return out;
}

/**
 * Felix's tunnel allowlists judged against the other path node: VXLAN (or IP-in-IP) from a node whose address is not
 * in the set is dropped in cali-INPUT before it is decapsulated, whatever any policy says — with or without a test.
 * `calicoAddress` is the address Calico has for a node (its Node resource / IPv4Address annotation), for the reader.
 */
export function tunnelAllowlistFindings(
  firewalls: readonly NodeFirewallFacts[],
  nodes: readonly (TunnelSender | null)[],
  calicoAddress: (node: string) => string | null,
): Finding[] {
  const out: Finding[] = [];
  for (const fw of firewalls) {
    for (const reading of fw.allowlists ?? []) {
      const { allowlist, members } = reading;
      if (members === null || allowlist.set === null) continue;
      for (const peer of nodes) {
        if (!peer || peer.name === fw.node || senderListed(members, peer)) continue;
        const grew = fw.diff?.rules.find((r) => r.raw === allowlist.drop.raw && r.packets > 0);
        const calico = calicoAddress(peer.name);
        const tunnel = TUNNEL_NAME[allowlist.tunnel];
        out.push({
          severity: 'error',
          code: 'tunnel_source_not_allowed',
          message: `${fw.node}: Calico drops ${tunnel} from ${peer.name} (${peer.ip}) before decapsulating it: Felix accepts ${tunnel} only from the hosts in ${allowlist.set}, which does not list ${peer.ip}${calico && calico.split('/')[0] !== peer.ip ? ` (Calico's address for ${peer.name} is ${calico})` : ''}${grew ? ` — counted ${plural(grew.packets, 'packet')} of the test connection` : ''}`,
          evidence: `${grew ? `[+${grew.packets}] ${grew.raw}` : allowlist.drop.raw}\n${membersLine(reading, members)}`,
        });
      }
    }
  }
  return out;
}
