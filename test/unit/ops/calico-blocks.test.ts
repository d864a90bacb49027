import { describe, expect, it } from '@jest/globals';
import { calicoOwnBlocks, nodeBlocks } from '../../../src/ops/calico-blocks.ts';
import { diagnoseHealth, type HealthFacts } from '../../../src/ops/health-diagnosis.ts';
import { parseIpRouteText, parseRouteN } from '../../../src/parse/route-text.ts';
import type { IpPoolInfo } from '../../../src/cluster/types.ts';
import { publishedFixture } from '../parse/published-fixture.ts';

const pool = (cidr: string): IpPoolInfo => ({
  name: 'p',
  cidr,
  blockSize: 26,
  ipipMode: 'Always',
  vxlanMode: 'Never',
  natOutgoing: true,
  disabled: false,
  apiVersion: 'crd.projectcalico.org/v1',
});
const routes = (name: string) => parseIpRouteText(publishedFixture(name)).routes;

describe("a node's own Calico blocks, from its blackholes", () => {
  it("finds Felix's proto 80 and BIRD's proto bird blackholes, IPv6 ones on dev lo too (calico#5823, Calico docs, calico#7638)", () => {
    expect(calicoOwnBlocks(routes('calico-5823-ip-route-table-all.txt'), [])).toEqual(['192.168.69.192/26']);
    expect(calicoOwnBlocks(routes('route-ipip-4.txt'), [])).toEqual(['192.168.231.0/26']);
    expect(calicoOwnBlocks(routes('calico-7638-ip-6-route-vxlan-v6.txt'), [])).toEqual([
      'fc00::1:be62:c02e:8d8b:e00/120',
    ]);
  });

  it("takes a pool's blackhole from route -n, which prints no proto (octetz IP-in-IP)", () => {
    const table = parseRouteN(publishedFixture('route-n-calico-ipip.txt')).routes;
    const blackholes = table.filter((r) => r.type === 'blackhole').map((r) => r.destination);
    expect(calicoOwnBlocks(table, [pool('192.168.0.0/16')])).toEqual(
      blackholes.filter((d) => d.startsWith('192.168.')),
    );
  });

  it("uses Calico's blocks, not kubeadm's wider spec.podCIDRs, once any node shows them; podCIDRs only without Calico IPAM", () => {
    const withCalico = nodeBlocks(
      [
        { name: 'node1', podCIDRs: ['10.244.0.0/24'], routes: routes('route-ipip-4.txt') },
        { name: 'node2', podCIDRs: ['10.244.1.0/24'], routes: [] },
      ],
      [],
    );
    expect(Object.fromEntries(withCalico)).toEqual({ node1: ['192.168.231.0/26'], node2: [] });
    const hostLocal = nodeBlocks(
      [{ name: 'node1', podCIDRs: ['10.244.0.0/24'], routes: routes('route-vxlan-2.txt') }],
      [],
    );
    expect(Object.fromEntries(hostLocal)).toEqual({ node1: ['10.244.0.0/24'] });
  });

  it('report: no false "route to block missing" for podCIDRs Calico IPAM does not use', () => {
    // node-a and node-b as the Calico docs print them: each routes the other's /26 over tunl0 and blackholes its own.
    const a = parseIpRouteText(
      'default via 10.0.0.1 dev eth0\n192.168.66.128/26 via 10.0.0.12 dev tunl0 proto bird onlink\nblackhole 192.168.231.0/26 proto bird\n',
    ).routes;
    const b = parseIpRouteText(
      'default via 10.0.0.1 dev eth0\n192.168.231.0/26 via 10.0.0.10 dev tunl0 proto bird onlink\nblackhole 192.168.66.128/26 proto bird\n',
    ).routes;
    const links = [
      { name: 'eth0', up: true, mtu: 1500 },
      { name: 'tunl0', up: true, mtu: 1480 },
    ];
    const blocks = nodeBlocks(
      [
        { name: 'node-a', podCIDRs: ['10.244.0.0/24'], routes: a },
        { name: 'node-b', podCIDRs: ['10.244.1.0/24'], routes: b },
      ],
      [pool('192.168.0.0/16')],
    );
    const facts: HealthFacts = {
      nodes: [
        {
          name: 'node-a',
          ip: '10.0.0.10',
          blocks: blocks.get('node-a')!,
          routes: a,
          links,
          ipForward: true,
          nodePorts: null,
          error: null,
        },
        {
          name: 'node-b',
          ip: '10.0.0.12',
          blocks: blocks.get('node-b')!,
          routes: b,
          links,
          ipForward: true,
          nodePorts: null,
          error: null,
        },
      ],
      pools: [pool('192.168.0.0/16')],
      pods: [],
      services: [],
    };
    expect(diagnoseHealth(facts)).toEqual([]);
    facts.nodes[0]!.routes = a.filter((r) => !r.raw.includes('tunl0'));
    expect(diagnoseHealth(facts).map((f) => f.code)).toEqual(['route_to_block_missing']);
  });
});
