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
