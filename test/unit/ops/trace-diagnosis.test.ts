import { describe, expect, it } from '@jest/globals';
import { diagnoseTrace, lookupRoute, nestTraceFindings, overlayBetween } from '../../../src/ops/trace-diagnosis.ts';
import { firewallFindings, packetPathVerdicts, type NodeFirewallFacts } from '../../../src/ops/packet-path.ts';
import { headlineFor } from '../../../src/model/report.ts';
import type {
  CapturePointFacts,
  NodeFacts,
  ObservedFlow,
  PodInside,
  RouteLine,
  TraceFacts,
} from '../../../src/ops/trace-facts.ts';
import type { IpPoolInfo, PodInfo } from '../../../src/cluster/types.ts';
import { routesFromIpJson } from '../../../src/parse/ip-json.ts';
import { parseIpRule } from '../../../src/parse/ip-rule.ts';
import { parseNetworkctlList, parseNmcliDeviceStatus } from '../../../src/parse/interface-managers.ts';
import { publishedFixture } from '../parse/published-fixture.ts';

const route = (raw: string): RouteLine => {
  const [destination] = raw.split(' ');
  const type = ['blackhole', 'unreachable'].includes(destination!) ? destination! : 'unicast';
  const dest = type === 'unicast' ? destination! : raw.split(' ')[1]!;
  return {
    raw,
    destination: dest,
    gateway: /via (\S+)/.exec(raw)?.[1] ?? null,
    device: /dev (\S+)/.exec(raw)?.[1] ?? null,
    type,
  };
};

const pool: IpPoolInfo = {
  name: 'default-ipv4-ippool',
  cidr: '10.244.0.0/16',
  blockSize: 26,
  ipipMode: 'Never',
  vxlanMode: 'Always',
  natOutgoing: true,
  disabled: false,
  apiVersion: 'crd.projectcalico.org/v1',
};

function pod(name: string, ip: string, node: string): PodInfo {
  return {
    name,
    namespace: 'default',
    uid: 'u',
    nodeName: node,
    podIP: ip,
    podIPs: [ip],
    hostIP: null,
    phase: 'Running',
    ready: true,
    hostNetwork: false,
    labels: {},
    containers: [],
  };
}

function node1(): NodeFacts {
  return {
    name: 'k8s-node1',
    ip: '10.254.0.11',
    routes: [
      'default via 10.254.0.254 dev eth0',
      'blackhole 10.244.0.0/26 proto 80',
      '10.244.0.2 dev calib8c6d5407e3 scope link',
      '10.244.0.64/26 via 10.244.0.64 dev vxlan.calico proto 80 onlink',
    ].map(route),
    links: [
      { name: 'eth0', up: true, mtu: 1500 },
      { name: 'vxlan.calico', up: true, mtu: 1450 },
      { name: 'calib8c6d5407e3', up: true, mtu: 1450 },
    ],
    uplink: 'eth0',
    routeTableText: '',
    ipForward: true,
    rpFilter: {},
    conntrack: null,
    tunnelOffload: null,
    neighbours: [{ ip: '10.244.0.64', device: 'vxlan.calico', lladdr: '66:fe:2c:6b:3a:3e', state: ['PERMANENT'] }],
    fdb: [{ mac: '66:fe:2c:6b:3a:3e', dst: '10.254.0.12' }],
    error: null,
  };
}
function node2(): NodeFacts {
  return {
    name: 'k8s-node2',
    ip: '10.254.0.12',
    routes: [
      'default via 10.254.0.254 dev eth0',
      'blackhole 10.244.0.64/26 proto 80',
      '10.244.0.65 dev calia5814ebbae9 scope link',
      '10.244.0.0/26 via 10.244.0.0 dev vxlan.calico proto 80 onlink',
    ].map(route),
    links: [
      { name: 'eth0', up: true, mtu: 1500 },
      { name: 'vxlan.calico', up: true, mtu: 1450 },
      { name: 'calia5814ebbae9', up: true, mtu: 1450 },
    ],
    uplink: 'eth0',
    routeTableText: '',
    ipForward: true,
    rpFilter: {},
    conntrack: null,
    tunnelOffload: null,
    neighbours: [{ ip: '10.244.0.0', device: 'vxlan.calico', lladdr: '66:39:f0:0e:fa:d5', state: ['PERMANENT'] }],
    fdb: [{ mac: '66:39:f0:0e:fa:d5', dst: '10.254.0.11' }],
    error: null,
  };
}

const flow = (over: Partial<ObservedFlow> = {}): ObservedFlow => ({
  src: '10.244.0.65',
  dst: '10.244.0.2',
  proto: 'tcp',
  sport: 40000,
  dport: 80,
  packets: 6,
  tunnel: null,
  tcpFlags: ['SYN', 'SYN-ACK', 'ACK', 'FIN'],
  handshake: 'complete',
  resets: 0,
  ...over,
});
const point = (
  role: CapturePointFacts['role'],
  node: string,
  iface: string,
  flows: ObservedFlow[],
): CapturePointFacts => ({
  role,
  node,
  interface: iface,
  packets: flows.reduce((n, f) => n + f.packets, 0),
  flows,
  error: null,
});
const tunnel = { type: 'vxlan' as const, outerSrc: '10.254.0.12', outerDst: '10.254.0.11', vni: 4096 };

function healthy(): TraceFacts {
  const n1 = node1();
  const n2 = node2();
  return {
    src: {
      pod: pod('pod-src', '10.244.0.65', 'k8s-node2'),
      caliInterface: 'calia5814ebbae9',
      node: n2,
      listeners: null,
      netns: 'cni-a',
    },
    dst: {
      pod: pod('pod-dest', '10.244.0.2', 'k8s-node1'),
      caliInterface: 'calib8c6d5407e3',
      node: n1,
      listeners: [80, 8080].map((port) => ({ address: '0.0.0.0', port, process: 'app' })),
      netns: 'cni-b',
    },
    pool,
    overlay: { mode: 'vxlan', device: 'vxlan.calico' },
    testPort: 80,
    capture: {
      seconds: 3,
      points: [
        point('src-pod', 'k8s-node2', 'calia5814ebbae9', [flow()]),
        point('src-tunnel', 'k8s-node2', 'vxlan.calico', [flow()]),
        point('src-uplink', 'k8s-node2', 'eth0', [flow({ tunnel })]),
        point('dst-tunnel', 'k8s-node1', 'vxlan.calico', [flow()]),
      ],
    },
  };
}
const codes = (facts: TraceFacts, severity?: string) =>
  diagnoseTrace(facts)
    .filter((f) => !severity || f.severity === severity)
    .map((f) => f.code);

describe('trace diagnosis', () => {
  it("takes a BGP next hop at any of the destination node's uplink addresses as straight to it (BIRD6's is its IPv6 one)", () => {
    const facts = healthy();
    facts.overlay = { mode: 'none', device: null };
    facts.src.node!.routes = facts.src.node!.routes!.map((r) =>
      r.destination === '10.244.0.0/26' ? route('10.244.0.0/26 via 10.254.0.111 dev eth0 proto bird') : r,
    );
    const nextHop = () => diagnoseTrace(facts).filter((f) => f.code === 'unexpected_next_hop');
    expect(nextHop().map((f) => f.message)).toEqual([
      'k8s-node2 sends 10.244.0.2 to 10.254.0.111 rather than straight to k8s-node1 (10.254.0.11)',
    ]);
    facts.dst.node!.underlayIPs = ['10.254.0.11', '10.254.0.111'];
    expect(nextHop()).toEqual([]);
  });

  it('finds nothing wrong on a healthy VXLAN path and says how the packets travel', () => {
    expect(codes(healthy(), 'error')).toEqual([]);
    expect(codes(healthy(), 'warning')).toEqual([]);
    expect(codes(healthy())).toEqual(expect.arrayContaining(['encapsulated', 'handshake_ok', 'overlay']));
  });

  it('reports a missing route to the remote block with the route the packet takes instead', () => {
    const facts = healthy();
    facts.src.node!.routes = facts.src.node!.routes!.filter((r) => !r.raw.startsWith('10.244.0.0/26'));
    const f = diagnoseTrace(facts).find((x) => x.code === 'no_route_to_block')!;
    expect(f.severity).toBe('error');
    expect(f.message).toBe(
      "k8s-node2 has no route to k8s-node1's pod block through vxlan.calico: packets to 10.244.0.2 take the default route (out of the cluster network)",
    );
    expect(f.evidence).toBe('default via 10.254.0.254 dev eth0');
  });

  it('reports a tunnel device that is down or missing', () => {
    const facts = healthy();
    facts.dst.node!.links = facts.dst.node!.links!.map((l) => (l.name === 'vxlan.calico' ? { ...l, up: false } : l));
    expect(codes(facts, 'error')).toContain('tunnel_down');
    facts.dst.node!.links = facts.dst.node!.links!.filter((l) => l.name !== 'vxlan.calico');
    expect(codes(facts, 'error')).toContain('tunnel_missing');
  });

  it('says the destination app listens on loopback only instead of "nothing listens"', () => {
    const facts = healthy();
    facts.dst.listeners = [
      { address: '127.0.0.1', port: 80, process: 'nginx' },
      { address: '0.0.0.0', port: 8080, process: 'app' },
    ];
    const found = diagnoseTrace(facts);
    expect(found.map((f) => f.code)).toContain('listener_loopback_only');
    expect(found.map((f) => f.code)).not.toContain('no_listener');
  });

  it('reports a stopped listener and the reset that answered the SYN', () => {
    const facts = healthy();
    facts.dst.listeners = [{ address: '0.0.0.0', port: 8080, process: 'app' }];
    const refused = flow({ tcpFlags: ['SYN', 'RST'], handshake: 'syn-only', resets: 1, packets: 2 });
    facts.capture!.points = facts.capture!.points.map((p) => ({ ...p, flows: [refused] }));
    expect(codes(facts, 'error')).toEqual(expect.arrayContaining(['no_listener', 'connection_refused']));
  });

  it('reports a missing cali interface, a pod that is not Running, forwarding off and strict rp_filter', () => {
    const facts = healthy();
    facts.src.node!.links = facts.src.node!.links!.filter((l) => !l.name.startsWith('cali'));
    facts.dst.pod = { ...facts.dst.pod, phase: 'Pending' };
    facts.dst.node!.ipForward = false;
    facts.dst.node!.rpFilter = { all: 1 };
    expect(codes(facts)).toEqual(
      expect.arrayContaining(['cali_missing', 'pod_not_running', 'ip_forward_off', 'rp_filter_strict']),
    );
  });

  it('reports a tunnel MTU that leaves no room for the VXLAN headers on the real uplink, whatever it is called', () => {
    const facts = healthy();
    facts.src.node!.uplink = 'ens5';
    facts.src.node!.links = facts.src.node!.links!.map((l) =>
      l.name === 'eth0' ? { ...l, name: 'ens5' } : { ...l, mtu: 1500 },
    );
    const f = diagnoseTrace(facts).find((x) => x.code === 'tunnel_mtu_above_uplink')!;
    expect(f.severity).toBe('error');
    expect(f.evidence).toBe('k8s-node2: vxlan.calico mtu 1500, ens5 mtu 1500');
  });

  it("says the underlay is too small when one node's uplink is smaller than the other's, and a pod MTU above the tunnel", () => {
    const facts = healthy();
    facts.dst.node!.links = facts.dst.node!.links!.map((l) => (l.name === 'eth0' ? { ...l, mtu: 1400 } : l));
    const under = diagnoseTrace(facts).find((x) => x.code === 'underlay_mtu_too_small')!;
    expect(under.message).toBe(
      "the underlay MTU on k8s-node1/eth0 (1400) is below the 1500 that VXLAN needs for vxlan.calico's MTU 1450 plus 50 bytes of headers: full-size packets between the pods are dropped",
    );
    const pods = healthy();
    pods.src.node!.links = pods.src.node!.links!.map((l) => (l.name.startsWith('cali') ? { ...l, mtu: 1500 } : l));
    expect(diagnoseTrace(pods).find((x) => x.code === 'pod_mtu_above_tunnel')!.evidence).toBe(
      'k8s-node2: calia5814ebbae9 mtu 1500, k8s-node2: vxlan.calico mtu 1450',
    );
  });

  it("checks the destination node routes the pod IP to the pod's cali interface", () => {
    const facts = healthy();
    facts.dst.node!.routes = facts.dst.node!.routes!.filter((r) => !r.raw.includes('calib8'));
    const f = diagnoseTrace(facts).find((x) => x.code === 'no_route_to_pod')!;
    expect(f.evidence).toBe('blackhole 10.244.0.0/26 proto 80');
  });

  it("honours ip rule on the destination node: pod traffic in on vxlan.calico goes to table 200's blackhole (lab)", () => {
    const facts = healthy();
    facts.dst.node!.routes = routesFromIpJson(publishedFixture('lab-ip-j-route-table-all-policy-blackhole.json'));
    facts.dst.node!.rules = parseIpRule(publishedFixture('lab-ip-j-rule-policy-blackhole.json')).rules;
    const f = diagnoseTrace(facts).find((x) => x.code === 'no_route_to_pod')!;
    expect(f.message).toBe(
      'k8s-node1 does not route 10.244.0.2 to calib8c6d5407e3 (default/pod-dest): table 200 (ip rule 100) has a blackhole route for it',
    );
    expect(f.evidence).toBe(
      'ip rule: 100: from all to 10.244.0.0/16 iif vxlan.calico lookup 200\nblackhole 10.244.0.0/16 table 200',
    );
    // The same rules on the source node leave its lookup alone: the packets arrive there on the pod's cali.
    const src = healthy();
    src.src.node!.rules = facts.dst.node!.rules;
    src.src.node!.routes = [...src.src.node!.routes!, ...facts.dst.node!.routes.filter((r) => r.table === '200')];
    expect(diagnoseTrace(src).map((x) => x.code)).not.toContain('no_route_to_dst');
  });
});

describe('route lookup and overlay choice', () => {
  it('picks the longest prefix, as the kernel does', () => {
    const routes = node1().routes!;
    expect(lookupRoute(routes, '10.244.0.2')?.raw).toBe('10.244.0.2 dev calib8c6d5407e3 scope link');
    expect(lookupRoute(routes, '10.244.0.70')?.raw).toContain('vxlan.calico');
    expect(lookupRoute(routes, '10.244.0.9')?.type).toBe('blackhole');
    expect(lookupRoute(routes, '8.8.8.8')?.raw).toBe('default via 10.254.0.254 dev eth0');
  });

  it('encapsulates CrossSubnet pools only between subnets', () => {
    const cross = { ...pool, vxlanMode: 'Never' as const, ipipMode: 'CrossSubnet' as const };
    expect(overlayBetween(cross, false, true)).toEqual({ mode: 'none', device: null });
    expect(overlayBetween(cross, false, false)).toEqual({ mode: 'ipip', device: 'tunl0' });
    expect(overlayBetween(pool, true, true).mode).toBe('none');
  });
});

describe('trace diagnosis of what left the node', () => {
  it('reports pod packets leaving the uplink bare when they should be inside the tunnel', () => {
    const facts = healthy();
    facts.capture!.points = [
      point('src-pod', 'k8s-node2', 'calia5814ebbae9', [flow({ handshake: 'syn-only', tcpFlags: ['SYN'] })]),
      point('src-tunnel', 'k8s-node2', 'vxlan.calico', []),
      point('src-uplink', 'k8s-node2', 'eth0', [flow({ handshake: 'syn-only', tcpFlags: ['SYN'], packets: 1 })]),
      point('dst-tunnel', 'k8s-node1', 'vxlan.calico', []),
    ];
    const f = diagnoseTrace(facts).find((x) => x.code === 'not_encapsulated')!;
    expect(f.message).toBe(
      'packets from default/pod-src leave k8s-node2 on eth0 without VXLAN encapsulation, so the network between the nodes sees pod addresses it cannot route',
    );
    expect(codes(facts, 'error')).not.toContain('lost_between_nodes');
  });
});

describe('trace diagnosis of the VXLAN peers', () => {
  it('reports a flushed neighbour entry on the reply path (the device was bounced)', () => {
    const facts = healthy();
    facts.dst.node!.neighbours = [{ ip: '10.244.0.64', device: 'vxlan.calico', lladdr: null, state: ['FAILED'] }];
    const f = diagnoseTrace(facts).find((x) => x.code === 'tunnel_neighbour_missing')!;
    expect(f.message).toBe(
      "k8s-node1 has no usable ARP entry for k8s-node2's VXLAN tunnel address 10.244.0.64: it cannot encapsulate packets for 10.244.0.65",
    );
    expect(f.evidence).toBe('10.244.0.64 dev vxlan.calico FAILED');
  });

  it('reports a missing FDB entry for the remote VTEP', () => {
    const facts = healthy();
    facts.src.node!.fdb = [];
    expect(codes(facts, 'error')).toEqual(['tunnel_fdb_missing']);
  });
});

describe('where the packets stop', () => {
  const syn = (over: Partial<ObservedFlow> = {}) =>
    flow({ handshake: 'syn-only', tcpFlags: ['SYN'], packets: 3, packetsFromSrc: 3, packetsFromDst: 0, ...over });
  /** Every hop of the healthy path, then `seenUpTo` hops see the SYNs and the rest nothing. */
  function path(seenUpTo: number, make = () => syn()): TraceFacts {
    const facts = healthy();
    const hops: [CapturePointFacts['role'], string, string][] = [
      ['src-pod', 'k8s-node2', 'calia5814ebbae9'],
      ['src-tunnel', 'k8s-node2', 'vxlan.calico'],
      ['src-uplink', 'k8s-node2', 'eth0'],
      ['dst-uplink', 'k8s-node1', 'eth0'],
      ['dst-tunnel', 'k8s-node1', 'vxlan.calico'],
      ['dst-pod', 'k8s-node1', 'calib8c6d5407e3'],
    ];
    facts.capture!.points = hops.map(([role, n, i], k) => point(role, n, i, k < seenUpTo ? [make()] : []));
    return facts;
  }
  const forwardDrop: NodeFirewallFacts = {
    node: 'k8s-node1',
    diff: {
      rules: [],
      policies: [{ table: 'filter', chain: 'FORWARD', policy: 'DROP', packets: 3, bytes: 180, drop: true }],
      missingCounters: false,
    },
    killers: [],
  };
  const all = (facts: TraceFacts, fws: NodeFirewallFacts[] = []) => {
    const verdicts = packetPathVerdicts(facts, fws);
    const dropped = fws.flatMap((fw) =>
      (fw.diff?.policies ?? [])
        .filter((p) => p.packets > 0)
        .map((p) => ({
          severity: 'error' as const,
          code: 'chain_policy_dropped',
          message: `${fw.node}: the ${p.table} table's ${p.chain} chain policy DROP dropped ${p.packets} packets`,
          evidence: '',
        })),
    );
    return nestTraceFindings([...verdicts.map((v) => v.finding), ...diagnoseTrace(facts), ...dropped], verdicts);
  };

  it("names the destination node and its FORWARD policy DROP when the SYNs reach its tunnel but never the pod's cali, with the rest under it", () => {
    const found = all(path(5), [forwardDrop]);
    const errors = found.filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.code)).toEqual(['dropped_on_dst_node']);
    expect(errors[0]!.message).toBe(
      "seen on k8s-node1/vxlan.calico (3 SYN), never on k8s-node1/calib8c6d5407e3 (pod-dest's cali): dropped on k8s-node1 — FORWARD policy DROP counted 3 packets",
    );
    expect(errors[0]!.evidence).toBe(
      'k8s-node2/calia5814ebbae9: 3 → k8s-node2/vxlan.calico: 3 → k8s-node2/eth0: 3 → k8s-node1/eth0: 3 → k8s-node1/vxlan.calico: 3 → k8s-node1/calib8c6d5407e3: 0 (packets of the test connection to port 80, request direction)\n' +
        ':FORWARD DROP — 3 packets counted (iptables-save -c, before → after)',
    );
    expect(errors[0]!.children!.map((c) => c.code).sort()).toEqual(['chain_policy_dropped', 'no_syn_ack']);
    expect(headlineFor(found)).toBe('1 problem');
  });

  it('says packets lost between the nodes point at the underlay or a cloud firewall for UDP 4789', () => {
    const f = packetPathVerdicts(path(3), [])[0]!.finding;
    expect(f.code).toBe('lost_between_nodes');
    expect(f.message).toBe(
      'seen on k8s-node2/eth0 (3 SYN), never on k8s-node1/eth0: lost between the nodes (underlay or cloud firewall: UDP 4789)',
    );
  });

  it('names an INPUT rule dropping VXLAN that counted the packets between the uplink and the tunnel', () => {
    const raw = '-A INPUT -p udp -m udp --dport 4789 -j DROP';
    const fw: NodeFirewallFacts = {
      node: 'k8s-node1',
      diff: {
        rules: [
          {
            table: 'filter',
            chain: 'INPUT',
            position: 1,
            raw,
            packets: 3,
            bytes: 400,
            appeared: false,
            reset: false,
            drop: 'drop',
            felixRuleId: null,
            comments: [],
          },
        ],
        policies: [],
        missingCounters: false,
      },
      killers: [
        {
          kind: 'input-drops-vxlan',
          description: 'drop rules matching udp dport 4789 (VXLAN) in INPUT',
          rule: { chain: 'INPUT', position: 1, raw, counters: { packets: 3, bytes: 400 } },
          counters: { packets: 3, bytes: 400 },
        },
      ],
    };
    const f = packetPathVerdicts(path(4), [fw])[0]!.finding;
    expect(f.message).toBe(
      'seen on k8s-node1/eth0 (3 SYN), never on k8s-node1/vxlan.calico: dropped on k8s-node1 — drop rules matching udp dport 4789 (VXLAN) in INPUT counted 3 packets',
    );
    expect(f.evidence.split('\n')[1]).toBe(`[+3] ${raw}`);
    expect(firewallFindings([fw], 'vxlan', true)).toEqual([
      expect.objectContaining({ severity: 'error', code: 'input_drops_tunnel', evidence: `[+3] ${raw}` }),
    ]);
  });

  it("blames bad UDP checksums on the uplink only when the node's rules were read and none drops the tunnel", () => {
    const facts = path(4);
    facts.capture!.points[3]!.badUdpChecksums = 3;
    const read: NodeFirewallFacts = {
      node: 'k8s-node1',
      diff: { rules: [], policies: [], missingCounters: false },
      killers: [],
    };
    expect(packetPathVerdicts(facts, [read])[0]!.finding.message).toBe(
      "seen on k8s-node1/eth0 (3 SYN), never on k8s-node1/vxlan.calico: dropped on k8s-node1 — 3 packets arrived with bad UDP checksums, which the kernel drops (the sender's checksum offload: ethtool -k vxlan.calico)",
    );
    const unread: NodeFirewallFacts = { node: 'k8s-node1', diff: null, killers: [], error: 'iptables-save: exit 1' };
    expect(packetPathVerdicts(facts, [unread])[0]!.finding.message).toBe(
      'seen on k8s-node1/eth0 (3 SYN), never on k8s-node1/vxlan.calico: dropped on k8s-node1 (its iptables counters could not be read: iptables-save: exit 1)',
    );
  });

  it('says the SYN reaches the pod but the SYN-ACK dies on the way back, as its own finding', () => {
    const facts = path(6, () =>
      flow({
        handshake: 'syn-ack-seen',
        tcpFlags: ['SYN', 'SYN-ACK'],
        packets: 6,
        packetsFromSrc: 3,
        packetsFromDst: 3,
      }),
    );
    facts.capture!.points = facts.capture!.points.map((p) =>
      ['dst-uplink', 'src-uplink', 'src-tunnel', 'src-pod'].includes(p.role)
        ? { ...p, flows: p.flows.map((f) => ({ ...f, packetsFromDst: 0 })) }
        : p,
    );
    const f = packetPathVerdicts(facts, [])[0]!.finding;
    expect(f.code).toBe('reply_lost');
    expect(f.message).toBe(
      'the SYN reaches the pod but the SYN-ACK dies on the way back: seen on k8s-node1/vxlan.calico (3 SYN-ACK), never on k8s-node1/eth0: dropped on k8s-node1',
    );
  });

  it('names forwarding off on the node where the packets stop, with the sysctl line', () => {
    const facts = path(5);
    facts.dst.node!.ipForward = false;
    const found = all(facts);
    const top = found.find((f) => f.code === 'dropped_on_dst_node')!;
    expect(top.message).toMatch(/dropped on k8s-node1 — IP forwarding is off$/);
    expect(top.evidence.split('\n')[1]).toBe('net.ipv4.ip_forward = 0');
    expect(top.children!.map((c) => c.code)).toContain('ip_forward_off');
    expect(found.map((f) => f.code)).not.toContain('ip_forward_off');
  });
});

describe('inside the pods and on the nodes', () => {
  const inside = (over: Partial<PodInside> = {}): PodInside => ({
    links: [
      { name: 'lo', up: true, mtu: 65536 },
      { name: 'eth0', up: true, mtu: 1450 },
    ],
    addresses: { lo: ['127.0.0.1/8'], eth0: ['10.244.0.65/32'] },
    routes: [route('default via 169.254.1.1 dev eth0'), route('169.254.1.1 dev eth0 scope link')],
    routeText: 'default via 169.254.1.1 dev eth0\n169.254.1.1 dev eth0 scope link',
    neighbours: [{ ip: '169.254.1.1', device: 'eth0', lladdr: 'ee:ee:ee:ee:ee:ee', state: ['REACHABLE'] }],
    error: null,
    ...over,
  });

  it('finds nothing wrong in a pod Calico set up', () => {
    const facts = healthy();
    facts.src.inside = inside();
    expect(codes(facts, 'error')).toEqual([]);
  });

  it("reports a deleted default route with the pod's route table as evidence, and an unanswered gateway", () => {
    const facts = healthy();
    facts.src.inside = inside({
      routes: [route('169.254.1.1 dev eth0 scope link')],
      routeText: '169.254.1.1 dev eth0 scope link',
    });
    const f = diagnoseTrace(facts).find((x) => x.code === 'pod_default_route_missing')!;
    expect(f.message).toBe(
      "default/pod-src has no default route: it cannot send to anything off its own link (Calico's is default via 169.254.1.1 dev eth0)",
    );
    expect(f.evidence).toBe('ip -4 route inside default/pod-src:\n169.254.1.1 dev eth0 scope link');
    const arp = healthy();
    arp.src.inside = inside({ neighbours: [{ ip: '169.254.1.1', device: 'eth0', lladdr: null, state: ['FAILED'] }] });
    expect(diagnoseTrace(arp).find((x) => x.code === 'pod_gateway_unresolved')!.evidence).toBe(
      '169.254.1.1 dev eth0 FAILED (ip neigh, inside the pod)',
    );
  });

  it('puts the reset under a listener bound to 127.0.0.1 only', () => {
    const facts = healthy();
    facts.dst.listeners = [{ address: '127.0.0.1', port: 80, process: 'node' }];
    const refused = flow({ tcpFlags: ['SYN', 'RST'], handshake: 'syn-only', resets: 1, packets: 2 });
    facts.capture!.points = facts.capture!.points.map((p) => ({ ...p, flows: [refused] }));
    const found = nestTraceFindings(diagnoseTrace(facts), []);
    const f = found.find((x) => x.code === 'listener_loopback_only')!;
    expect(f.evidence).toBe('listening: 127.0.0.1:80 (node)');
    expect(f.children!.map((c) => c.code)).toEqual(['connection_refused']);
  });

  it('reports strict rp_filter on the uplink or tunnel, a conntrack table near full and VXLAN checksum offload on', () => {
    const facts = healthy();
    facts.dst.node!.rpFilter = { all: 0, 'vxlan.calico': 1 };
    facts.dst.node!.conntrack = { count: 30000, max: 32768 };
    facts.dst.node!.tunnelOffload = {
      device: 'vxlan.calico',
      txChecksumIpGeneric: true,
      line: 'tx-checksum-ip-generic: on',
    };
    const found = diagnoseTrace(facts);
    expect(found.find((f) => f.code === 'rp_filter_strict')!.evidence).toBe('net.ipv4.conf.vxlan/calico.rp_filter = 1');
    expect(found.find((f) => f.code === 'conntrack_near_full')!.evidence).toBe(
      'net.netfilter.nf_conntrack_count = 30000, net.netfilter.nf_conntrack_max = 32768',
    );
    expect(found.find((f) => f.code === 'vxlan_checksum_offload_on')!.evidence).toBe(
      'ethtool -k vxlan.calico: tx-checksum-ip-generic: on',
    );
  });
});

describe('what trace could not read', () => {
  it("says when a pod's network namespace was not found, with what discovery tried", () => {
    const facts = healthy();
    facts.src.netns = null;
    facts.src.netnsSteps = ['crictl pods: not installed', 'scanned 3 namespaces: none holds 10.244.0.65'];
    const f = diagnoseTrace(facts).find((x) => x.code === 'pod_netns_not_found')!;
    expect(f).toMatchObject({
      severity: 'warning',
      message:
        "could not find default/pod-src's network namespace on k8s-node2: nothing was read inside it and no test connection was made from it",
      evidence: 'crictl pods: not installed; scanned 3 namespaces: none holds 10.244.0.65',
    });
  });

  it("says the node's counters could not be read when nothing else explains the loss there", () => {
    const facts = healthy();
    facts.capture!.points = [
      point('dst-tunnel', 'k8s-node1', 'vxlan.calico', [
        flow({ handshake: 'syn-only', tcpFlags: ['SYN'], packets: 3, packetsFromSrc: 3, packetsFromDst: 0 }),
      ]),
      point('dst-pod', 'k8s-node1', 'calib8c6d5407e3', []),
    ];
    const f = packetPathVerdicts(facts, [
      {
        node: 'k8s-node1',
        diff: null,
        killers: [],
        error: 'iptables-save -c on k8s-node1 exited 4: Another app is currently holding the xtables lock',
      },
    ])[0]!.finding;
    expect(f.message).toBe(
      "seen on k8s-node1/vxlan.calico (3 SYN), never on k8s-node1/calib8c6d5407e3 (pod-dest's cali): dropped on k8s-node1 (its iptables counters could not be read: iptables-save -c on k8s-node1 exited 4: Another app is currently holding the xtables lock)",
    );
  });
});

describe('trace: a host network manager that manages Calico devices', () => {
  const reading = (tool: 'NetworkManager' | 'systemd-networkd', fixture: string) => ({
    tool,
    command:
      tool === 'NetworkManager'
        ? 'nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device status'
        : 'networkctl list --no-legend --no-pager',
    devices: (tool === 'NetworkManager' ? parseNmcliDeviceStatus : parseNetworkctlList)(publishedFixture(fixture))
      .devices,
  });

  it("names NetworkManager configuring a cali veth as a problem, the device, its state and Calico's doc (typhoon#1007)", () => {
    const facts = healthy();
    facts.dst.node!.interfaceManagers = [reading('NetworkManager', 'nmcli-t-typhoon-1007-cali-connecting.txt')];
    const f = diagnoseTrace(facts).find((x) => x.code === 'interface_manager_owns_calico_device')!;
    expect(f.severity).toBe('error');
    expect(f.message).toBe(
      "NetworkManager on k8s-node1 manages Calico's devices cali1a81d481534 (connecting (getting IP configuration)), tunl0 (disconnected): it can remove the addresses and routes Felix programs there; Calico's docs say to mark them unmanaged",
    );
    expect(f.evidence.split('\n')).toEqual([
      'nmcli -t -f DEVICE,TYPE,STATE,CONNECTION device status on k8s-node1:',
      'cali1a81d481534:ethernet:connecting (getting IP configuration):Wired connection 3',
      'tunl0:iptunnel:disconnected:',
      expect.stringMatching(
        /^Calico: https:\/\/docs\.tigera\.io\/calico\/.*#configure-networkmanager — \/etc\/NetworkManager\/conf\.d\/calico\.conf: \[keyfile\] unmanaged-devices=interface-name:cali\*;/,
      ),
    ]);
  });

  it('says nothing once the devices are unmanaged, or where the tools are absent', () => {
    const fixed = healthy();
    fixed.dst.node!.interfaceManagers = [
      reading('NetworkManager', 'nmcli-t-typhoon-1007-cali-unmanaged.txt'),
      reading('systemd-networkd', 'networkctl-calico-2471-list.txt'),
    ];
    expect(diagnoseTrace(fixed).map((x) => x.code)).not.toContain('interface_manager_owns_calico_device');
    const absent = healthy();
    absent.dst.node!.interfaceManagers = [];
    absent.src.node!.interfaceManagers = null;
    expect(diagnoseTrace(absent).map((x) => x.code)).not.toContain('interface_manager_owns_calico_device');
  });

  it('names systemd-networkd configuring a cali veth through a .network file that matched it (calico#2471)', () => {
    const facts = healthy();
    facts.src.node!.interfaceManagers = [reading('systemd-networkd', 'networkctl-calico-2471-cali-configuring.txt')];
    const f = diagnoseTrace(facts).find((x) => x.code === 'interface_manager_owns_calico_device')!;
    expect(f.severity).toBe('error');
    expect(f.message).toMatch(/^systemd-networkd on k8s-node2 manages Calico's device cali2bd9ed59e74 \(configuring\)/);
    expect(f.evidence).toContain('[Link] Unmanaged=yes');
  });
});
