import { describe, expect, it } from '@jest/globals';
import { birdConfig, meshProtocolName } from '../../../src/lab/bird.ts';
import { nodeLines } from '../../../src/lab/network.ts';
import { planLab } from '../../../src/lab/plan.ts';
import { loadTopology, parseTopology } from '../../../src/lab/topology.ts';

const BGP_TOPOLOGY = new URL('../../../src/lab/topologies/bgp.yaml', import.meta.url).pathname;

describe("the lab's BGP (routing: bgp)", () => {
  it('peers every node with every other in AS 64512 and announces only its own block', async () => {
    const plan = planLab(await loadTopology(BGP_TOPOLOGY), { lab: 'bgunit', nodeSubnet: '10.254.9.0/24' });
    const [node1] = plan.nodes;
    const conf = birdConfig(plan, node1!, '/run/k8snet/bgunit/logs/k8s-node1-bird.log');
    expect(plan).toMatchObject({ routing: 'bgp', asNumber: 64512, overlay: 'none', overlayDevice: null });
    expect(conf).toContain('router id 10.254.9.11;');
    expect(conf).toContain('route 10.244.0.0/26 blackhole;');
    expect(conf).toContain('local 10.254.9.11 as 64512;');
    expect(conf.match(/^protocol bgp \S+/gm)).toEqual([
      'protocol bgp Mesh_10_254_9_12',
      'protocol bgp Mesh_10_254_9_13',
    ]);
    expect(conf).toContain('export where source = RTS_BGP;');
    expect(meshProtocolName('10.0.0.1')).toBe('Mesh_10_0_0_1');
    // BIRD writes the remote-block routes: the lab writes none itself, and no tunnel device.
    expect(nodeLines(plan, node1!, 0).filter((l) => l.includes('proto bird') || l.includes('vxlan'))).toEqual([]);
  });

  it('runs BIRD6 beside BIRD on a dual-stack lab: IPv6 peers, the IPv6 block, and no IPv6 VTEP', async () => {
    const topology = new URL('../../../src/lab/topologies/dual-stack-bgp.yaml', import.meta.url).pathname;
    const plan = planLab(await loadTopology(topology), { lab: 'bgunit', nodeSubnet: '10.254.9.0/24' });
    const [node1, node2, node3] = plan.nodes;
    const conf = birdConfig(plan, node1!, '/run/k8snet/bgunit/logs/k8s-node1-bird6.log', 6);
    // BIRD's router id is 32 bits even for IPv6 (confd's bird6 template uses the IPv4 address).
    expect(conf).toContain('router id 10.254.9.11;');
    expect(conf).toContain(`route ${node1!.blockV6} blackhole;`);
    expect(conf).toContain(`local ${node1!.ipv6} as 64512;`);
    expect(conf).toContain('ipv6 { import all; export where proto = "calico_blocks"; next hop self; };');
    expect(conf.match(/^protocol bgp \S+/gm)).toEqual(
      [node2!, node3!].map((n) => `protocol bgp ${meshProtocolName(n.ipv6!)}`),
    );
    expect(meshProtocolName('fd00::c')).toBe('Mesh_fd00__c');
    expect(plan.nodes.every((n) => n.tunnelIPv6 === undefined)).toBe(true);
    expect(plan.podMtu).toBe(1500);
    const lines = nodeLines(plan, node1!, 0);
    expect(lines).toContain(`route add blackhole ${node1!.blockV6} proto 80`);
    expect(lines.filter((l) => l.includes('vxlan') || l.includes('proto bird'))).toEqual([]);
  });

  it('refuses a dual-stack bgp lab whose IPv6 pool encapsulates', () => {
    const pools = [
      { name: 'p4', cidr: '10.244.0.0/16', vxlanMode: 'Never', ipipMode: 'Never' },
      { name: 'p6', cidr: 'fd00:10:244::/64', blockSize: 122, vxlanMode: 'Always', ipipMode: 'Never' },
    ];
    expect(() => parseTopology({ nodes: [{ name: 'n1' }], ipPools: pools, routing: 'bgp' })).toThrow(
      /the IPv6 pool is routed unencapsulated too/,
    );
  });

  it('refuses bgp with an encapsulating pool, and reads a wrong autodetected address for a node', () => {
    const base = { nodes: [{ name: 'n1' }], ipPools: [{ name: 'p', cidr: '10.244.0.0/16' }] };
    expect(() => parseTopology({ ...base, routing: 'bgp' })).toThrow(/vxlanMode: Never and ipipMode: Never/);
    expect(() => parseTopology({ ...base, routing: 'ospf' })).toThrow(/routing/);
    expect(parseTopology(base).routing).toBe('vxlan');
    expect(parseTopology({ ...base, nodes: [{ name: 'n1', calicoIPv4Address: '172.17.0.1/16' }] }).nodes[0]).toEqual({
      name: 'n1',
      calicoIPv4Address: '172.17.0.1/16',
    });
    expect(() => parseTopology({ ...base, nodes: [{ name: 'n1', calicoIPv4Address: 'eth1' }] })).toThrow(
      /calicoIPv4Address/,
    );
  });
});
