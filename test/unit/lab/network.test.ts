import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_TOPOLOGY_PATH, loadTopology, parseTopology } from '../../../src/lab/topology.ts';
import { planLab, servicesOfFamily } from '../../../src/lab/plan.ts';
import { buildEndpointSlices, buildService, type ObjectContext } from '../../../src/lab/api-server/objects.ts';
import {
  hostLinkLines,
  nodeFdbLines,
  nodeLines,
  podHostLines,
  podLines,
  switchGateway,
} from '../../../src/lab/network.ts';
import { kubeProxyFilterRules, kubeProxyNatRules, kubeProxyNftRules } from '../../../src/lab/kube-proxy-rules.ts';
import { hostCidrsFromIpJson, pickNodeSubnet } from '../../../src/lab/node-subnet.ts';

const plan = planLab(await loadTopology(DEFAULT_TOPOLOGY_PATH), { lab: 'lab', nodeSubnet: '10.254.7.0/24' });
const [node1, node2] = plan.nodes;

describe('lab network lines', () => {
  it('routes each remote block through vxlan.calico onlink via the remote tunnel address, as Felix does', () => {
    const lines = nodeLines(plan, node1!, 0);
    expect(lines).toContain(`route add ${node2!.block} via ${node2!.tunnelIP} dev vxlan.calico onlink proto 80`);
    expect(lines).toContain(`neigh add ${node2!.tunnelIP} lladdr ${node2!.tunnelMac} dev vxlan.calico nud permanent`);
    expect(lines).toContain(
      'link add vxlan.calico type vxlan id 4096 dstport 4789 local 10.254.7.11 dev eth0 nolearning',
    );
    expect(lines).toContain(`route add blackhole ${node1!.block} proto 80`);
    expect(nodeFdbLines(plan, node1!)).toEqual([
      `fdb add ${node2!.tunnelMac} dev vxlan.calico dst ${node2!.ip} self permanent`,
    ]);
  });

  it("sends nodes' default route to the switch, which never forwards, and gives the host one link", () => {
    expect(switchGateway(plan)).toBe('10.254.7.254');
    expect(nodeLines(plan, node1!, 0)).toContain('route add default via 10.254.7.254 dev eth0');
    expect(hostLinkLines(plan)).toEqual([
      'link add k8snet-lab mtu 1500 type veth peer name host netns k8snet-lab-switch',
      'addr add 10.254.7.1/24 dev k8snet-lab',
      'link set k8snet-lab up',
    ]);
  });

  it('gives a pod a /32, the 169.254.1.1 gateway and a host route to its cali interface', () => {
    const pod = plan.pods.find((p) => p.name === 'pod-dest')!;
    expect(podLines(plan, pod)).toEqual([
      'link set lo up',
      `addr add ${pod.ip}/32 dev eth0`,
      'link set eth0 mtu 1450 up',
      'route add 169.254.1.1 dev eth0 scope link',
      'route add default via 169.254.1.1 dev eth0',
    ]);
    expect(podHostLines(plan, pod)).toContain(`route add ${pod.ip} dev ${pod.caliInterface} scope link`);
    expect(podHostLines(plan, pod)[0]).toBe(
      `link add ${pod.caliInterface} mtu 1450 type veth peer name eth0 netns ${pod.netnsName}`,
    );
  });
});

describe("a dual-stack lab's IPv6 Service", () => {
  const yaml = (extra: string) => `
nodes: [{ name: k8s-node1 }, { name: k8s-node2 }]
ipPools:
  - { name: v4, cidr: 10.244.0.0/16, vxlanMode: Always }
  - { name: v6, cidr: "fd00:10:244::/64", vxlanMode: Always }
pods:
  - { name: web, node: k8s-node1, labels: { app: web }, containers: [{ name: web, ports: [80] }] }
services:
  - { name: web4, selector: { app: web }, ports: [{ name: http, port: 80 }] }
  - { name: web6, ipFamily: IPv6, selector: { app: web }, ports: [{ name: http, port: 80 }] }
  - { name: none6, ipFamily: IPv6, selector: { app: nothing }, ports: [{ name: http, port: 81 }] }
${extra}`;
  const dual = planLab(parseTopology(parseYaml(yaml(''))), { lab: 'dual6', nodeSubnet: '10.254.7.0/24' });
  const web6 = dual.services.find((s) => s.name === 'web6')!;

  it('takes its ClusterIP from the IPv6 range and the pods IPv6 addresses as endpoints; IPv4 Services are unchanged', () => {
    expect(dual.serviceCIDRv6).toBe('fd00:10:96::/112');
    expect(dual.services.map((s) => [s.name, s.ipFamily ?? 4, s.clusterIP])).toEqual([
      ['web4', 4, '10.96.0.100'],
      ['web6', 6, 'fd00:10:96::64'],
      ['none6', 6, 'fd00:10:96::65'],
    ]);
    expect(web6.ports[0]!.endpoints.map((e) => e.ip)).toEqual([dual.pods[0]!.ipv6]);
    // Its rules are ip6tables' only: the IPv4 tables do not mention it, and the IPv6 ones hold nothing else.
    expect(kubeProxyNatRules(dual)).not.toContain('web6');
    const nat6 = kubeProxyNatRules(dual, 6);
    expect(nat6).not.toContain('web4');
    expect(nat6).toContain(`-A KUBE-SERVICES -d fd00:10:96::64/128 -p tcp -m comment --comment "default/web6:http cluster IP" -m tcp --dport 80 -j ${web6.ports[0]!.svcChain}`); // prettier-ignore
    expect(nat6).toContain(`! -s fd00:10:244::/64 -d fd00:10:96::64/128`);
    expect(nat6).toContain(`-j DNAT --to-destination [${dual.pods[0]!.ipv6}]:80`);
    expect(kubeProxyFilterRules(dual, 6)).toContain(
      '-A KUBE-SERVICES -d fd00:10:96::65/128 -p tcp -m comment --comment "default/none6:http has no endpoints" -m tcp --dport 81 -j REJECT --reject-with icmp6-port-unreachable',
    );
    // The nodes route the IPv6 range to their uplink, so local connections pass the lookup before the DNAT.
    expect(nodeLines(dual, dual.nodes[0]!, 0)).toContain('route add fd00:10:96::/112 dev eth0');
  });

  it('is refused without an IPv6 pool, or with kube-proxy in IPVS mode', () => {
    const v4only = yaml('').replace(/ {2}- \{ name: v6.*\n/, '');
    expect(() => parseTopology(parseYaml(v4only))).toThrow(/IPv6 pool of a dual-stack lab/);
    expect(() => parseTopology(parseYaml(yaml('kubeProxy: ipvs')))).toThrow(/iptables and nftables modes only/);
    expect(() => parseTopology(parseYaml(yaml('').replace('ipFamily: IPv6', 'ipFamily: v6')))).toThrow(/IPv4 or IPv6/);
  });

  it('builds a dual-stack Service: a ClusterIP of each family, each half in its own tables, an EndpointSlice each', () => {
    const both = planLab(
      parseTopology(
        parseYaml(
          yaml('').replace(
            '  - { name: none6,',
            '  - { name: web46, ipFamilies: [IPv4, IPv6], selector: { app: web }, ports: [{ name: http, port: 82 }] }\n  - { name: none6,',
          ),
        ),
      ),
      { lab: 'dual6', nodeSubnet: '10.254.7.0/24' },
    );
    const web46 = both.services.find((s) => s.name === 'web46')!;
    // The IPv4 allocator counts web4 before it, the IPv6 one web6.
    expect([web46.ipFamily, web46.clusterIP, web46.ipv6?.clusterIP]).toEqual([
      undefined,
      '10.96.0.101',
      'fd00:10:96::65',
    ]);
    expect(web46.ports[0]!.endpoints.map((e) => e.ip)).toEqual([both.pods[0]!.ip]);
    expect(web46.ipv6!.ports[0]!.endpoints.map((e) => e.ip)).toEqual([both.pods[0]!.ipv6]);
    expect(servicesOfFamily(both, 4).map((s) => s.name)).toEqual(['web4', 'web46']);
    expect(servicesOfFamily(both, 6).map((s) => [s.name, s.clusterIP])).toEqual([
      ['web6', 'fd00:10:96::64'],
      ['web46', 'fd00:10:96::65'],
      ['none6', 'fd00:10:96::66'],
    ]);
    expect(kubeProxyNatRules(both)).toContain(`-j DNAT --to-destination ${both.pods[0]!.ip}:80`);
    expect(kubeProxyNatRules(both)).toContain('-A KUBE-SERVICES -d 10.96.0.101/32 ');
    expect(kubeProxyNatRules(both, 6)).toContain('-A KUBE-SERVICES -d fd00:10:96::65/128 ');
    const objectCtx: ObjectContext = { plan: both, createdAt: new Date(0), kernelVersion: '6.1.0' };
    expect((buildService(objectCtx, web46) as Record<string, unknown>).spec).toMatchObject({
      clusterIP: '10.96.0.101',
      clusterIPs: ['10.96.0.101', 'fd00:10:96::65'],
      ipFamilies: ['IPv4', 'IPv6'],
      ipFamilyPolicy: 'RequireDualStack',
    });
    const slices = buildEndpointSlices(objectCtx, web46) as unknown as { metadata: { name: string }; addressType: string; endpoints: { addresses: string[] }[] }[]; // prettier-ignore
    expect(slices.map((x) => [x.addressType, x.endpoints.map((e) => e.addresses)])).toEqual([
      ['IPv4', [[both.pods[0]!.ip]]],
      ['IPv6', [[both.pods[0]!.ipv6]]],
    ]);
    expect(new Set(slices.map((x) => x.metadata.name)).size).toBe(2);
    expect(() => parseTopology(parseYaml(yaml('').replace('ipFamily: IPv6', 'ipFamilies: [IPv6, IPv4]')))).toThrow(
      /IPv4-primary/,
    );
  });

  it("writes kube-proxy nftables' ip6 table for the IPv6 Services and halves, with the node's IPv6 address", () => {
    const nft = planLab(parseTopology(parseYaml(yaml('kubeProxy: nftables'))), {
      lab: 'dual6',
      nodeSubnet: '10.254.7.0/24',
    });
    const node = nft.nodes[0]!;
    const six = kubeProxyNftRules(nft, node, 6);
    expect(six).toContain('add table ip6 kube-proxy { comment "rules for kube-proxy" ; }');
    expect(six).toContain('add set ip6 kube-proxy nodeport-ips { type ipv6_addr ;');
    expect(six).toContain(`add element ip6 kube-proxy nodeport-ips { ${node.ipv6} }`);
    expect(six).toContain('add rule ip6 kube-proxy services ip6 daddr . meta l4proto . th dport vmap @service-ips');
    expect(six).toContain(`dnat to [${nft.pods[0]!.ipv6}]:80`);
    // proxier.go names an IPv6 endpoint's chain with the colons turned to dots.
    expect(six).toMatch(
      /add chain ip6 kube-proxy endpoint-[A-Z2-7]{8}-default\/web6\/tcp\/http__fd00\.10\.244\.\.[0-9a-f]+\/80\n/,
    );
    expect(six).toContain('add element ip6 kube-proxy cluster-ips { fd00:10:96::64 }');
    expect(six).not.toContain('web4');
    expect(six).not.toMatch(/\bip (daddr|saddr)\b|ipv4_addr/);
    // The IPv4 table keeps the IPv4 Services only.
    const four = kubeProxyNftRules(nft, node);
    expect(four).toContain('add element ip kube-proxy cluster-ips { 10.96.0.100 }');
    expect(four).not.toContain('fd00:');
  });
});

describe('a dual-stack lab', () => {
  const dual = planLab(
    parseTopology(
      parseYaml(`
nodes: [{ name: k8s-node1 }, { name: k8s-node2 }]
ipPools:
  - { name: v4, cidr: 10.244.0.0/16, vxlanMode: Always }
  - { name: v6, cidr: "fd00:10:244::/64", vxlanMode: Always }
pods:
  - { name: web, node: k8s-node1, containers: [{ name: web, ports: [80] }] }
`),
    ),
    { lab: 'dual', nodeSubnet: '10.254.7.0/24' },
  );
  const [a, b] = dual.nodes;

  it("gives each node a /122 of the IPv6 pool (Calico's default block), an address on a lab-only ULA and its VTEP", () => {
    expect(dual.nodeSubnetV6).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    expect([a!.blockV6, b!.blockV6]).toEqual(['fd00:10:244::/122', 'fd00:10:244::40/122']);
    expect([a!.tunnelIPv6, b!.tunnelIPv6]).toEqual(['fd00:10:244::', 'fd00:10:244::40']);
    expect(dual.pods[0]!.ipv6).toBe('fd00:10:244::1');
    // VXLAN over IPv6 costs 70 bytes: the pods get the smaller of the two families' MTUs.
    expect(dual.podMtu).toBe(1430);
  });

  it('builds vxlan-v6.calico beside vxlan.calico, with the routes, neighbours and FDB entries Felix writes', () => {
    const lines = nodeLines(dual, a!, 0);
    expect(lines).toEqual(
      expect.arrayContaining([
        `addr add ${a!.ipv6}/64 dev eth0 nodad`,
        `link add vxlan-v6.calico type vxlan id 4096 dstport 4789 local ${a!.ipv6} dev eth0 nolearning`,
        `link set vxlan-v6.calico address ${a!.tunnelMacV6} mtu 1430`,
        `link set vxlan.calico address ${a!.tunnelMac} mtu 1450`,
        `route add blackhole ${a!.blockV6} proto 80`,
        `neigh add ${b!.tunnelIPv6} lladdr ${b!.tunnelMacV6} dev vxlan-v6.calico nud permanent`,
        `route add ${b!.blockV6} via ${b!.tunnelIPv6} dev vxlan-v6.calico onlink proto 80`,
      ]),
    );
    expect(nodeFdbLines(dual, a!)).toContain(
      `fdb add ${b!.tunnelMacV6} dev vxlan-v6.calico dst ${b!.ipv6} self permanent`,
    );
  });

  it("gives a pod its IPv6 /128 and Calico's IPv6 gateway, the cali side's EUI-64 link-local address", () => {
    const pod = dual.pods[0]!;
    expect(podLines(dual, pod).slice(-2)).toEqual([
      `addr add ${pod.ipv6}/128 dev eth0 nodad`,
      'route add ::/0 via fe80::ecee:eeff:feee:eeee dev eth0',
    ]);
    expect(podHostLines(dual, pod)).toEqual(
      expect.arrayContaining([
        `addr add fe80::ecee:eeff:feee:eeee/64 dev ${pod.caliInterface} nodad`,
        `route add ${pod.ipv6} dev ${pod.caliInterface} scope link`,
      ]),
    );
  });

  it('refuses pools a dual-stack lab cannot build, saying why', () => {
    const pools = (p: string) => parseYaml(`nodes: [{ name: n1 }]\nipPools:\n${p}`);
    expect(() => parseTopology(pools('  - { name: v6, cidr: "fd00::/64" }'))).toThrow(
      'the lab takes one IPv4 pool, optionally followed by one IPv6 pool (dual stack)',
    );
    expect(() =>
      parseTopology(
        pools(
          '  - { name: v4, cidr: 10.244.0.0/16 }\n  - { name: v6, cidr: "fd00::/64", ipipMode: Always, vxlanMode: Never }',
        ),
      ),
    ).toThrow('IP-in-IP carries IPv4 only');
  });
});

describe('kube-proxy nat rules', () => {
  const rules = kubeProxyNatRules(plan);
  const nodePort = plan.services.find((s) => s.name === 'svc-nodeport')!.ports[0]!;

  it('sends NodePort 31080 through KUBE-NODEPORTS → KUBE-EXT → KUBE-SVC → KUBE-SEP → DNAT to the pod', () => {
    const ep = nodePort.endpoints[0]!;
    expect(rules).toContain(
      `-A KUBE-NODEPORTS -p tcp -m comment --comment "default/svc-nodeport:http" -m tcp --dport 31080 -j ${nodePort.extChain}`,
    );
    expect(rules).toContain(`-A ${nodePort.extChain} -j ${nodePort.svcChain}`);
    expect(rules).toContain(
      `-A ${nodePort.svcChain} -m comment --comment "default/svc-nodeport:http -> ${ep.ip}:8080" -j ${ep.sepChain}`,
    );
    expect(rules).toContain(
      `-A ${ep.sepChain} -p tcp -m comment --comment "default/svc-nodeport:http" -m tcp -j DNAT --to-destination ${ep.ip}:8080`,
    );
  });

  it('keeps the NodePort jump last in KUBE-SERVICES and masquerades marked traffic', () => {
    const services = rules.split('\n').filter((l) => l.startsWith('-A KUBE-SERVICES'));
    expect(services.at(-1)).toContain('-m addrtype --dst-type LOCAL -j KUBE-NODEPORTS');
    expect(rules).toContain(
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    );
  });

  it('declares every chain it jumps to', () => {
    const declared = new Set([...rules.matchAll(/^:(\S+)/gm)].map((m) => m[1]));
    const targets = [...rules.matchAll(/-j (KUBE-\S+)/g)].map((m) => m[1]);
    for (const t of targets) expect(declared).toContain(t);
  });
});

const topology = await loadTopology(DEFAULT_TOPOLOGY_PATH);
describe('kube-proxy filter rules', () => {
  const orphaned = planLab(
    {
      ...topology,
      services: [
        ...topology.services,
        {
          name: 'svc-orphan',
          namespace: 'default',
          type: 'NodePort',
          selector: { app: 'nothing' },
          ports: [{ name: 'http', port: 8081, targetPort: 8081, nodePort: 31081, protocol: 'TCP' }],
        },
      ],
    },
    { lab: 'lab', nodeSubnet: '10.254.7.0/24' },
  );
  const orphan = orphaned.services.find((s) => s.name === 'svc-orphan')!;

  it('rejects a Service and a NodePort without endpoints in the filter table, as kube-proxy does, and writes no nat chain for them', () => {
    const filter = kubeProxyFilterRules(orphaned);
    expect(filter).toContain(
      `-A KUBE-SERVICES -d ${orphan.clusterIP}/32 -p tcp -m comment --comment "default/svc-orphan:http has no endpoints" -m tcp --dport 8081 -j REJECT --reject-with icmp-port-unreachable`,
    );
    expect(filter).toContain(
      '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/svc-orphan:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31081 -j REJECT --reject-with icmp-port-unreachable',
    );
    expect(filter).toContain(
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    );
    expect(kubeProxyNatRules(orphaned)).not.toContain('svc-orphan');
    expect(kubeProxyFilterRules(plan)).not.toContain('REJECT');
  });

  it('names the node uplink as the topology says, for the address, the default route and the VXLAN device', () => {
    const ens5 = planLab(
      parseTopology({
        nodeUplink: 'ens5',
        nodes: [{ name: 'n1' }, { name: 'n2' }],
        ipPools: [{ name: 'p', cidr: '10.244.0.0/16' }],
      }),
      { lab: 'lab', nodeSubnet: '10.254.7.0/24' },
    );
    const lines = nodeLines(ens5, ens5.nodes[0]!, 0);
    expect(lines).toContain('addr add 10.254.7.11/24 dev ens5');
    expect(lines).toContain('route add default via 10.254.7.254 dev ens5');
    expect(lines).toContain(
      'link add vxlan.calico type vxlan id 4096 dstport 4789 local 10.254.7.11 dev ens5 nolearning',
    );
    expect(lines.join('\n')).not.toContain('eth0');
    expect(() =>
      parseTopology({
        nodeUplink: 'bad name!',
        nodes: [{ name: 'n1' }],
        ipPools: [{ name: 'p', cidr: '10.244.0.0/16' }],
      }),
    ).toThrow(/nodeUplink/);
  });
});

describe('node subnet choice', () => {
  it('skips /24s the host already routes or addresses', () => {
    const host = hostCidrsFromIpJson(
      JSON.stringify([{ dst: 'default' }, { dst: '10.254.0.0/23' }, { dst: '172.17.0.0/16' }]),
      JSON.stringify([
        {
          addr_info: [
            { family: 'inet', local: '10.254.2.5', prefixlen: 24 },
            { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
          ],
        },
      ]),
    );
    expect(host).toEqual(['10.254.0.0/23', '172.17.0.0/16', '10.254.2.5/24']);
    expect(pickNodeSubnet(host, ['10.244.0.0/16'])).toBe('10.254.3.0/24');
  });

  it('ignores a host default route (0.0.0.0/0 would overlap everything)', () => {
    expect(pickNodeSubnet(['0.0.0.0/0'], [])).toBe('10.254.0.0/24');
  });
});
