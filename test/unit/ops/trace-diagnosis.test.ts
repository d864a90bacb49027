import { describe, expect, it } from '@jest/globals';
import { diagnoseTrace, lookupRoute, overlayBetween } from '../../../src/ops/trace-diagnosis.ts';
import type { CapturePointFacts, NodeFacts, ObservedFlow, RouteLine, TraceFacts } from '../../../src/ops/trace-facts.ts';
import type { IpPoolInfo, PodInfo } from '../../../src/cluster/types.ts';

const route = (raw: string): RouteLine => {
  const [destination] = raw.split(' ');
  const type = ['blackhole', 'unreachable'].includes(destination!) ? destination! : 'unicast';
  const dest = type === 'unicast' ? destination! : raw.split(' ')[1]!;
  return { raw, destination: dest, gateway: /via (\S+)/.exec(raw)?.[1] ?? null, device: /dev (\S+)/.exec(raw)?.[1] ?? null, type };
};

const pool: IpPoolInfo = { name: 'default-ipv4-ippool', cidr: '10.244.0.0/16', blockSize: 26, ipipMode: 'Never', vxlanMode: 'Always', natOutgoing: true, disabled: false, apiVersion: 'crd.projectcalico.org/v1' };

function pod(name: string, ip: string, node: string): PodInfo {
  return { name, namespace: 'default', uid: 'u', nodeName: node, podIP: ip, podIPs: [ip], hostIP: null, phase: 'Running', ready: true, hostNetwork: false, labels: {}, containers: [] };
}

function node1(): NodeFacts {
  return {
    name: 'k8s-node1',
    ip: '10.254.0.11',
    routes: ['default via 10.254.0.254 dev eth0', 'blackhole 10.244.0.0/26 proto 80', '10.244.0.2 dev calib8c6d5407e3 scope link', '10.244.0.64/26 via 10.244.0.64 dev vxlan.calico proto 80 onlink'].map(route),
    links: [{ name: 'eth0', up: true, mtu: 1500 }, { name: 'vxlan.calico', up: true, mtu: 1450 }, { name: 'calib8c6d5407e3', up: true, mtu: 1450 }],
    routeTableText: '',
    ipForward: true,
    rpFilter: {},
    neighbours: [{ ip: '10.244.0.64', device: 'vxlan.calico', lladdr: '66:fe:2c:6b:3a:3e', state: ['PERMANENT'] }],
    fdb: [{ mac: '66:fe:2c:6b:3a:3e', dst: '10.254.0.12' }],
    error: null,
  };
}
function node2(): NodeFacts {
  return {
    name: 'k8s-node2',
    ip: '10.254.0.12',
    routes: ['default via 10.254.0.254 dev eth0', 'blackhole 10.244.0.64/26 proto 80', '10.244.0.65 dev calia5814ebbae9 scope link', '10.244.0.0/26 via 10.244.0.0 dev vxlan.calico proto 80 onlink'].map(route),
    links: [{ name: 'eth0', up: true, mtu: 1500 }, { name: 'vxlan.calico', up: true, mtu: 1450 }, { name: 'calia5814ebbae9', up: true, mtu: 1450 }],
    routeTableText: '',
    ipForward: true,
    rpFilter: {},
    neighbours: [{ ip: '10.244.0.0', device: 'vxlan.calico', lladdr: '66:39:f0:0e:fa:d5', state: ['PERMANENT'] }],
    fdb: [{ mac: '66:39:f0:0e:fa:d5', dst: '10.254.0.11' }],
    error: null,
  };
}

const flow = (over: Partial<ObservedFlow> = {}): ObservedFlow => ({
  src: '10.244.0.65', dst: '10.244.0.2', proto: 'tcp', sport: 40000, dport: 80, packets: 6, tunnel: null, tcpFlags: ['SYN', 'SYN-ACK', 'ACK', 'FIN'], handshake: 'complete', resets: 0, ...over,
});
const point = (role: CapturePointFacts['role'], node: string, iface: string, flows: ObservedFlow[]): CapturePointFacts => ({ role, node, interface: iface, packets: flows.reduce((n, f) => n + f.packets, 0), flows, error: null });
const tunnel = { type: 'vxlan' as const, outerSrc: '10.254.0.12', outerDst: '10.254.0.11', vni: 4096 };

function healthy(): TraceFacts {
  const n1 = node1();
  const n2 = node2();
  return {
    src: { pod: pod('pod-src', '10.244.0.65', 'k8s-node2'), caliInterface: 'calia5814ebbae9', node: n2, listeners: null, netns: 'cni-a' },
    dst: { pod: pod('pod-dest', '10.244.0.2', 'k8s-node1'), caliInterface: 'calib8c6d5407e3', node: n1, listeners: [80, 8080].map((port) => ({ address: '0.0.0.0', port, process: 'app' })), netns: 'cni-b' },
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
const codes = (facts: TraceFacts, severity?: string) => diagnoseTrace(facts).filter((f) => !severity || f.severity === severity).map((f) => f.code);

describe('trace diagnosis', () => {
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
    expect(f.message).toBe("k8s-node2 has no route to k8s-node1's pod block through vxlan.calico: packets to 10.244.0.2 take the default route (out of the cluster network)");
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
    facts.dst.listeners = [{ address: '127.0.0.1', port: 80, process: 'nginx' }, { address: '0.0.0.0', port: 8080, process: 'app' }];
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

  it('reports packets that leave the source node but never arrive', () => {
    const facts = healthy();
    facts.capture!.points = facts.capture!.points.map((p) => (p.role === 'dst-tunnel' ? { ...p, flows: [], packets: 0 } : { ...p, flows: [flow({ handshake: 'syn-only', tcpFlags: ['SYN'] })] }));
    const f = diagnoseTrace(facts).find((x) => x.code === 'lost_between_nodes')!;
    expect(f.message).toBe('packets leave k8s-node2 but never arrive at k8s-node1');
    expect(f.evidence).toContain('k8s-node1/vxlan.calico: 0 packets');
    expect(codes(facts, 'error')).toContain('no_syn_ack');
  });

  it('reports a missing cali interface, a pod that is not Running, forwarding off and strict rp_filter', () => {
    const facts = healthy();
    facts.src.node!.links = facts.src.node!.links!.filter((l) => !l.name.startsWith('cali'));
    facts.dst.pod = { ...facts.dst.pod, phase: 'Pending' };
    facts.dst.node!.ipForward = false;
    facts.dst.node!.rpFilter = { all: 1 };
    expect(codes(facts)).toEqual(expect.arrayContaining(['cali_missing', 'pod_not_running', 'ip_forward_off', 'rp_filter_strict']));
  });

  it('warns when the tunnel MTU leaves no room for the VXLAN headers', () => {
    const facts = healthy();
    facts.src.node!.links = facts.src.node!.links!.map((l) => (l.name === 'eth0' ? l : { ...l, mtu: 1500 }));
    const f = diagnoseTrace(facts).filter((x) => x.code === 'mtu_too_large');
    expect(f.map((x) => x.evidence)).toContain('vxlan.calico mtu 1500, eth0 mtu 1500');
  });

  it('checks the destination node routes the pod IP to the pod\'s cali interface', () => {
    const facts = healthy();
    facts.dst.node!.routes = facts.dst.node!.routes!.filter((r) => !r.raw.includes('calib8'));
    const f = diagnoseTrace(facts).find((x) => x.code === 'no_route_to_pod')!;
    expect(f.evidence).toBe('blackhole 10.244.0.0/26 proto 80');
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
    expect(f.message).toBe('packets from default/pod-src leave k8s-node2 on eth0 without VXLAN encapsulation, so the network between the nodes sees pod addresses it cannot route');
    expect(codes(facts, 'error')).not.toContain('lost_between_nodes');
  });
});

describe('trace diagnosis of the VXLAN peers', () => {
  it('reports a flushed neighbour entry on the reply path (the device was bounced)', () => {
    const facts = healthy();
    facts.dst.node!.neighbours = [{ ip: '10.244.0.64', device: 'vxlan.calico', lladdr: null, state: ['FAILED'] }];
    const f = diagnoseTrace(facts).find((x) => x.code === 'tunnel_neighbour_missing')!;
    expect(f.message).toBe("k8s-node1 has no usable ARP entry for k8s-node2's VXLAN tunnel address 10.244.0.64: it cannot encapsulate packets for 10.244.0.65");
    expect(f.evidence).toBe('10.244.0.64 dev vxlan.calico FAILED');
  });

  it('reports a missing FDB entry for the remote VTEP', () => {
    const facts = healthy();
    facts.src.node!.fdb = [];
    expect(codes(facts, 'error')).toEqual(['tunnel_fdb_missing']);
  });
});
