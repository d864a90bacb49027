import { describe, expect, it } from '@jest/globals';
import {
  compareWithPrevious,
  diagnoseHealth,
  type HealthFacts,
  type HealthNodeFacts,
} from '../../../src/ops/health-diagnosis.ts';
import type { RouteLine } from '../../../src/ops/trace-facts.ts';

const r = (raw: string): RouteLine => ({
  raw,
  destination: raw.split(' ')[0] === 'blackhole' ? raw.split(' ')[1]! : raw.split(' ')[0]!,
  gateway: /via (\S+)/.exec(raw)?.[1] ?? null,
  device: /dev (\S+)/.exec(raw)?.[1] ?? null,
  type: raw.startsWith('blackhole') ? 'blackhole' : 'unicast',
});
const links = [
  { name: 'eth0', up: true, mtu: 1500 },
  { name: 'vxlan.calico', up: true, mtu: 1450 },
  { name: 'calib8c6d5407e3', up: true, mtu: 1450 },
];

function facts(): HealthFacts {
  const n1: HealthNodeFacts = {
    name: 'k8s-node1',
    ip: '10.254.0.11',
    blocks: ['10.244.0.0/26'],
    routes: [
      'default via 10.254.0.254 dev eth0',
      'blackhole 10.244.0.0/26 proto 80',
      '10.244.0.2 dev calib8c6d5407e3 scope link',
      '10.244.0.64/26 via 10.244.0.64 dev vxlan.calico onlink',
    ].map(r),
    links,
    ipForward: true,
    nodePorts: [31080],
    error: null,
  };
  const n2: HealthNodeFacts = {
    name: 'k8s-node2',
    ip: '10.254.0.12',
    blocks: ['10.244.0.64/26'],
    routes: [
      'default via 10.254.0.254 dev eth0',
      'blackhole 10.244.0.64/26 proto 80',
      '10.244.0.0/26 via 10.244.0.0 dev vxlan.calico onlink',
    ].map(r),
    links,
    ipForward: true,
    nodePorts: [31080],
    error: null,
  };
  return {
    nodes: [n1, n2],
    pools: [
      {
        name: 'p',
        cidr: '10.244.0.0/16',
        blockSize: 26,
        ipipMode: 'Never',
        vxlanMode: 'Always',
        natOutgoing: true,
        disabled: false,
        apiVersion: 'crd.projectcalico.org/v1',
      },
    ],
    pods: [
      {
        name: 'pod-dest',
        namespace: 'default',
        uid: 'u',
        nodeName: 'k8s-node1',
        podIP: '10.244.0.2',
        podIPs: [],
        hostIP: null,
        phase: 'Running',
        ready: true,
        hostNetwork: false,
        labels: {},
        containers: [],
        caliInterface: 'calib8c6d5407e3',
      },
    ],
    services: [
      {
        name: 'svc-nodeport',
        namespace: 'default',
        type: 'NodePort',
        clusterIP: '10.96.0.101',
        clusterIPs: [],
        selector: { type: 'dest' },
        ports: [{ name: 'http', protocol: 'TCP', port: 8080, targetPort: 8080, nodePort: 31080 }],
        externalTrafficPolicy: null,
        readyEndpoints: 1,
      },
    ],
  };
}

describe('cluster health', () => {
  it('finds nothing on a healthy lab', () => {
    expect(diagnoseHealth(facts())).toEqual([]);
  });

  it('reports a vanished block route, a missing pod route, a missing NodePort rule and a Service without endpoints', () => {
    const f = facts();
    f.nodes[0]!.routes = f.nodes[0]!.routes!.filter((x) => !x.raw.includes('vxlan') && !x.raw.includes('cali'));
    f.nodes[1]!.nodePorts = [];
    f.services[0]!.readyEndpoints = 0;
    const messages = diagnoseHealth(f).map((x) => x.message);
    expect(messages).toEqual([
      'route to 10.244.0.64/26 (k8s-node2) missing on k8s-node1',
      'route to default/pod-dest (10.244.0.2 via calib8c6d5407e3) missing on k8s-node1',
      "NodePort 31080 (default/svc-nodeport) missing from k8s-node2's iptables",
      'Service default/svc-nodeport has no ready endpoints',
    ]);
  });

  it("judges each family's NodePorts in that family's tables: an IPv6 Service's in ip6tables, a dual-stack one's in both", () => {
    const f = facts();
    const nodePort = (name: string, clusterIPs: string[], port: number) => ({
      ...f.services[0]!,
      name,
      clusterIP: clusterIPs[0]!,
      clusterIPs,
      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: port }],
    });
    f.services = [
      nodePort('web6', ['fd00:10:96::64'], 31096),
      nodePort('web46', ['10.96.0.100', 'fd00:10:96::65'], 31046),
    ];
    for (const n of f.nodes) {
      n.nodePorts = [31046];
      n.nodePortsV6 = [31046, 31096];
    }
    expect(diagnoseHealth(f)).toEqual([]);
    f.nodes[0]!.nodePortsV6 = [31096];
    f.nodes[1]!.nodePorts = [];
    expect(diagnoseHealth(f).map((x) => [x.message, x.evidence])).toEqual([
      [
        "NodePort 31046 (default/web46) missing from k8s-node1's ip6tables",
        'KUBE-NODEPORTS on k8s-node1 (ip6tables): 31096',
      ],
      ["NodePort 31046 (default/web46) missing from k8s-node2's iptables", 'KUBE-NODEPORTS on k8s-node2: empty'],
    ]);
    // Where the IPv6 tables were not read, they are not judged.
    for (const n of f.nodes) delete n.nodePortsV6;
    expect(diagnoseHealth(f).map((x) => x.message)).toEqual([
      "NodePort 31046 (default/web46) missing from k8s-node2's iptables",
    ]);
  });

  it("checks the IPv6 routes too with an IPv6 pool: remote IPv6 blocks via vxlan-v6.calico, local pods' IPv6 to their cali", () => {
    const f = facts();
    f.pools.push({ ...f.pools[0]!, name: 'v6', cidr: 'fd00:10:244::/64', blockSize: 122 });
    const pod = f.pods[0]!;
    pod.podIPs = [pod.podIP!, 'fd00:10:244::2'];
    for (const n of f.nodes) n.links = [...links, { name: 'vxlan-v6.calico', up: true, mtu: 1430 }];
    f.nodes[0]!.ipv6 = {
      routes: [
        'blackhole fd00:10:244::/122 dev lo proto 80',
        `fd00:10:244::2 dev ${pod.caliInterface} proto kernel metric 256`,
        'fd00:10:244::40/122 via fd00:10:244::40 dev vxlan-v6.calico proto 80 onlink',
      ].map(r),
      blocks: ['fd00:10:244::/122'],
      address: 'fdd3::b',
    };
    f.nodes[1]!.ipv6 = {
      routes: ['blackhole fd00:10:244::40/122 dev lo proto 80', 'fd00:10:244::/122 via fd00:10:244:: dev vxlan-v6.calico onlink'].map(r), // prettier-ignore
      blocks: ['fd00:10:244::40/122'],
      address: 'fdd3::c',
    };
    expect(diagnoseHealth(f)).toEqual([]);
    f.nodes[1]!.ipv6!.forwarding = false;
    expect(diagnoseHealth(f).map((x) => [x.message, x.evidence])).toEqual([
      ['IPv6 forwarding is off on k8s-node2', 'net.ipv6.conf.all.forwarding = 0'],
    ]);
    f.nodes[1]!.ipv6!.forwarding = true;
    f.nodes[1]!.links = links;
    expect(diagnoseHealth(f).map((x) => x.message)).toEqual(['k8s-node2 has no vxlan-v6.calico']);
    f.nodes[1]!.links = [...links, { name: 'vxlan-v6.calico', up: true, mtu: 1430 }];
    // The remote block sent out the uplink under vxlanMode Always, and the pod's IPv6 route gone.
    f.nodes[0]!.ipv6.routes = [
      r('blackhole fd00:10:244::/122 dev lo proto 80'),
      r('fd00:10:244::40/122 via fdd3::99 dev eth0'),
    ];
    expect(diagnoseHealth(f).map((x) => [x.message, x.evidence])).toEqual([
      ['route to fd00:10:244::40/122 (k8s-node2) missing on k8s-node1', 'fd00:10:244::40/122 via fdd3::99 dev eth0'],
      [
        `route to ${pod.namespace}/${pod.name} (fd00:10:244::2 via ${pod.caliInterface}) missing on k8s-node1`,
        // What now catches the pod's address: its block's blackhole.
        'blackhole fd00:10:244::/122 dev lo proto 80',
      ],
    ]);
  });

  it('reports an unreachable node instead of failing the report', () => {
    const f = facts();
    f.nodes[1] = { ...f.nodes[1]!, routes: null, links: null, error: 'connect ETIMEDOUT' };
    expect(diagnoseHealth(f).map((x) => x.code)).toEqual(['node_unreachable']);
  });
});

describe('comparison with the previous report', () => {
  const broken = () => {
    const f = facts();
    f.nodes[0]!.routes = f.nodes[0]!.routes!.filter((x) => !x.raw.includes('vxlan'));
    return diagnoseHealth(f);
  };

  it('says what appeared, remembers since when, and what was resolved', () => {
    const first = compareWithPrevious([], null, '09:00');
    expect(first.appeared).toEqual([]);
    const second = compareWithPrevious(broken(), first.memory, '09:05');
    expect(second.appeared.map((x) => x.message)).toEqual(['route to 10.244.0.64/26 (k8s-node2) missing on k8s-node1']);
    const third = compareWithPrevious(broken(), second.memory, '09:10');
    expect(third.appeared).toEqual([]);
    expect(third.ongoing.map((x) => x.since)).toEqual(['09:05']);
    const fourth = compareWithPrevious([], third.memory, '09:15');
    expect(fourth.resolved).toEqual([
      { message: 'route to 10.244.0.64/26 (k8s-node2) missing on k8s-node1', firstSeen: '09:05' },
    ]);
  });
});
