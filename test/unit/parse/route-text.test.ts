import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseIpRouteText, parseRouteN } from '../../../src/parse/route-text.ts';
import { labelRoute } from '../../../src/ops/routes-op.ts';
import { lookupRoute } from '../../../src/ops/trace-diagnosis.ts';
import type { IpPoolInfo } from '../../../src/cluster/types.ts';
import { publishedFixture } from './published-fixture.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const pool = (cidr: string): IpPoolInfo[] => [
  {
    name: 'p',
    cidr,
    blockSize: 26,
    ipipMode: 'Always',
    vxlanMode: 'Never',
    natOutgoing: true,
    disabled: false,
    apiVersion: 'crd.projectcalico.org/v1',
  },
];

describe('route -n (net-tools) from a Calico IP-in-IP node', () => {
  const { routes, unparsed } = parseRouteN(fixture('route-n-calico-ipip.txt'));

  it('reads every route and keeps the prompt and headers as unparsed lines', () => {
    expect(routes).toHaveLength(10);
    expect(unparsed).toEqual([
      '# Source: github.com/joshrosso/octetz content/c/calico-routing-modes.md ("run on master", Calico IP-in-IP, AWS)',
      '$ route -n',
      'Kernel IP routing table',
      'Destination     Gateway         Genmask         Flags Metric Ref    Use Iface',
    ]);
  });

  it("turns masks into prefixes, 0.0.0.0 gateways into direct routes, and the * interface into Calico's blackhole", () => {
    expect(routes.map((r) => r.raw)).toEqual([
      'default via 10.30.0.1 dev ens5 metric 100',
      '10.30.0.0/24 dev ens5',
      '10.30.0.1 dev ens5 metric 100',
      '172.17.0.0/16 dev docker0',
      '192.168.97.192/26 via 10.30.1.66 dev tunl0',
      '192.168.133.192/26 via 10.30.0.56 dev tunl0',
      'blackhole 192.168.219.64/26',
      '192.168.219.65 dev cali50e69859f2f',
      '192.168.219.66 dev calif52892c3dce',
      '192.168.226.64/26 via 10.30.0.206 dev tunl0',
    ]);
  });

  it('labels the routes and finds the path to a pod on another node through tunl0', () => {
    const pools = pool('192.168.0.0/16');
    expect(routes.map((r) => labelRoute(r, pools))).toEqual([
      'default',
      'host-network',
      'host-network',
      'host-network',
      'remote-block-ipip',
      'remote-block-ipip',
      'blackhole-local-block',
      'local-pod',
      'local-pod',
      'remote-block-ipip',
    ]);
    expect(lookupRoute(routes, '192.168.133.194')?.raw).toBe('192.168.133.192/26 via 10.30.0.56 dev tunl0');
    expect(lookupRoute(routes, '192.168.219.70')?.type).toBe('blackhole');
  });
});

describe('ip route text', () => {
  it("reads a lab node's VXLAN routes with the prompt line kept aside", () => {
    const { routes, unparsed } = parseIpRouteText(fixture('ip-route-lab-vxlan.txt'));
    expect(unparsed).toHaveLength(2);
    expect(routes.map((r) => [r.type, r.destination, r.gateway, r.device])).toEqual([
      ['unicast', 'default', '10.254.0.254', 'eth0'],
      ['blackhole', '10.244.0.0/26', null, null],
      ['unicast', '10.244.0.1', null, 'calid73126c1689'],
      ['unicast', '10.244.0.2', null, 'calib8c6d5407e3'],
      ['unicast', '10.244.0.64/26', '10.244.0.64', 'vxlan.calico'],
      ['unicast', '10.254.0.0/24', null, 'eth0'],
    ]);
    expect(routes[4]!.raw).toBe('10.244.0.64/26 via 10.244.0.64 dev vxlan.calico proto 80 onlink');
  });

  it('survives garbage, CRLF, tabs and very long lines without throwing', () => {
    const junk = `\r\n\t default\tvia 10.0.0.1  dev eth0\r\nnot a route at all\n${'x'.repeat(100_000)}\nunreachable 10.1.0.0/16 metric 1024\n`;
    const { routes, unparsed } = parseIpRouteText(junk);
    expect(routes.map((r) => r.raw)).toEqual(['default via 10.0.0.1 dev eth0', 'unreachable 10.1.0.0/16 metric 1024']);
    expect(unparsed).toHaveLength(2);
    expect(parseRouteN('').routes).toEqual([]);
  });
});

// Published and lab outputs, read through publishedFixture (without their `# Source:` line and shell prompts).
describe('route -n on published Calico BGP nodes (open599/myk8s, no encapsulation)', () => {
  const pools = pool('172.30.0.0/16');

  it("with the node-to-node mesh: the other node's block goes straight to its address on enp0s8", () => {
    const { routes, unparsed } = parseRouteN(publishedFixture('route-bgp-noencap-1.txt'));
    expect(unparsed).toEqual([
      'Kernel IP routing table',
      'Destination     Gateway         Genmask         Flags Metric Ref    Use Iface',
    ]);
    expect(routes.map((r) => r.raw)).toEqual([
      'default via 10.0.2.1 dev enp0s3 metric 100',
      '10.0.2.0/24 dev enp0s3 metric 100',
      '172.17.0.0/16 dev docker0',
      '172.30.34.0/26 via 192.168.57.3 dev enp0s8',
      'blackhole 172.30.179.192/26',
      '172.30.179.196 dev calif0db6a9ef60',
      '172.30.179.197 dev cali2979978fe41',
      '172.30.179.198 dev calie0009a25fd1',
      '172.30.179.199 dev cali2413786a555',
      '192.168.57.0/24 dev enp0s8 metric 100',
    ]);
    expect(routes.map((r) => labelRoute(r, pools))).toEqual([
      'default',
      'host-network',
      'host-network',
      'remote-block-direct',
      'blackhole-local-block',
      'local-pod',
      'local-pod',
      'local-pod',
      'local-pod',
      'host-network',
    ]);
    expect(lookupRoute(routes, '172.30.34.4')?.raw).toBe('172.30.34.0/26 via 192.168.57.3 dev enp0s8');
  });

  it('without the mesh: no route to the other block, so its pods are sent to the default gateway', () => {
    const { routes } = parseRouteN(publishedFixture('route-bgp-nomesh-1.txt'));
    expect(routes).toHaveLength(9);
    expect(routes.some((r) => r.destination.startsWith('172.30.34.'))).toBe(false);
    expect(lookupRoute(routes, '172.30.34.4')).toMatchObject({
      destination: 'default',
      gateway: '10.0.2.1',
      device: 'enp0s3',
    });
  });
});

describe('route -n on a lab node with every kind of route', () => {
  const { routes, unparsed } = parseRouteN(publishedFixture('lab-route-n.txt'));

  it("reads both defaults, the multipath route (net-tools shows its first hop) and the unreachable route's `-` columns", () => {
    expect(unparsed).toEqual([
      'Kernel IP routing table',
      'Destination     Gateway         Genmask         Flags Metric Ref    Use Iface',
    ]);
    expect(routes.map((r) => [r.type, r.destination, r.gateway, r.device])).toEqual([
      ['unicast', 'default', '10.254.0.254', 'eth0'],
      ['unicast', 'default', '10.254.0.253', 'eth0'],
      ['unicast', '10.96.0.0/12', '10.254.0.1', 'eth0'],
      ['unreachable', '10.99.0.0/16', null, null],
      ['blackhole', '10.244.0.0/26', null, null],
      ['unicast', '10.244.0.5', null, 'cali1234abcd567'],
      ['unicast', '10.244.1.0/26', '10.244.1.0', 'vxlan.calico'],
      ['unicast', '10.254.0.0/24', null, 'eth0'],
    ]);
    expect(routes.map((r) => r.raw).slice(0, 4)).toEqual([
      'default via 10.254.0.254 dev eth0 metric 100',
      'default via 10.254.0.253 dev eth0 metric 200',
      '10.96.0.0/12 via 10.254.0.1 dev eth0',
      'unreachable 10.99.0.0/16',
    ]);
  });
});

describe('ip route text from published Calico nodes', () => {
  it("IP-in-IP routes learned by BIRD (Calico's troubleshooting guide): tunl0, proto bird, onlink and the local blackhole", () => {
    const { routes, unparsed } = parseIpRouteText(publishedFixture('route-ipip-4.txt'));
    expect(unparsed).toEqual([]);
    expect(routes.map((r) => [r.type, r.destination, r.gateway, r.device])).toEqual([
      ['unicast', '192.168.66.128/26', '10.0.0.12', 'tunl0'],
      ['unicast', '192.168.180.192/26', '10.0.0.10', 'tunl0'],
      ['blackhole', '192.168.231.0/26', null, null],
    ]);
    expect(routes[0]!.raw).toBe('192.168.66.128/26 via 10.0.0.12 dev tunl0 proto bird onlink');
    expect(routes.map((r) => labelRoute(r, pool('192.168.0.0/16')))).toEqual([
      'remote-block-ipip',
      'remote-block-ipip',
      'blackhole-local-block',
    ]);
  });

  it("VXLANCrossSubnet inside one subnet: Felix's proto 80 routes go through eth0, not vxlan.calico", () => {
    const { routes, unparsed } = parseIpRouteText(publishedFixture('route-vxlan-2.txt'));
    expect(unparsed).toEqual([]);
    expect(routes.map((r) => r.raw)).toEqual([
      'default via 10.0.0.1 dev eth0 proto dhcp src 10.0.0.10 metric 100',
      '10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.10',
      '10.0.0.1 dev eth0 proto dhcp scope link src 10.0.0.10 metric 100',
      '10.48.66.128/26 via 10.0.0.12 dev eth0 proto 80 onlink',
      '10.48.231.0/26 via 10.0.0.11 dev eth0 proto 80 onlink',
      '172.17.0.0/16 dev docker0 proto kernel scope link src 172.17.0.1 linkdown',
    ]);
    expect(routes.map((r) => labelRoute(r, pool('10.48.0.0/16')))).toEqual([
      'default',
      'host-network',
      'host-network',
      'remote-block-direct',
      'remote-block-direct',
      'host-network',
    ]);
  });

  it('reads the routes of an IP-in-IP node pasted after its `ip link`, and keeps the link lines as unparsed, not as routes to "1:"', () => {
    const { routes, unparsed } = parseIpRouteText(publishedFixture('ip-link-route-ipip-node.txt'));
    expect(routes.map((r) => [r.type, r.destination, r.gateway, r.device])).toEqual([
      ['unicast', 'default', '192.168.231.2', 'ens33'],
      ['unicast', '10.244.0.0/24', '192.168.231.6', 'tunl0'],
      ['unicast', '10.244.1.0/24', '192.168.231.16', 'tunl0'],
      ['unicast', '10.244.2.0/24', '192.168.231.26', 'tunl0'],
      ['blackhole', '10.244.3.0/24', null, null],
      ['unicast', '10.244.3.30', null, 'cali2cbbb27c005'],
      ['unicast', '10.244.3.31', null, 'calib880bc9a460'],
      ['unicast', '172.17.0.0/16', null, 'docker0'],
      ['unicast', '192.168.231.0/24', null, 'ens33'],
    ]);
    expect(unparsed).toHaveLength(14);
    expect(unparsed.filter((l) => /^\d+: /.test(l))).toHaveLength(7);
    expect(unparsed[0]).toBe(
      '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000',
    );
  });
});

describe('ip route text with a multipath route (lab node)', () => {
  const { routes, unparsed } = parseIpRouteText(publishedFixture('lab-ip-route-multipath.txt'));

  it('joins the tab-indented nexthop lines to their route and takes the first hop as its gateway and device', () => {
    expect(unparsed).toEqual([]);
    expect(routes).toHaveLength(8);
    expect(routes[2]).toEqual({
      raw: '10.96.0.0/12 nexthop via 10.254.0.1 dev eth0 weight 1 nexthop via 10.254.0.2 dev eth0 weight 2',
      destination: '10.96.0.0/12',
      gateway: '10.254.0.1',
      device: 'eth0',
      type: 'unicast',
    });
  });

  it('agrees with route -n on the same node', () => {
    const table = parseRouteN(publishedFixture('lab-route-n.txt')).routes;
    expect(routes.map((r) => [r.type, r.destination, r.gateway, r.device])).toEqual(
      table.map((r) => [r.type, r.destination, r.gateway, r.device]),
    );
    expect(routes.map((r) => r.raw).slice(3)).toEqual([
      'unreachable 10.99.0.0/16',
      'blackhole 10.244.0.0/26 proto 80',
      '10.244.0.5 dev cali1234abcd567 scope link',
      '10.244.1.0/26 via 10.244.1.0 dev vxlan.calico proto 80 onlink',
      '10.254.0.0/24 dev eth0 proto kernel scope link src 10.254.0.11',
    ]);
  });

  it('keeps a nexthop line with no route above it as unparsed', () => {
    expect(parseIpRouteText('\tnexthop via 10.0.0.1 dev eth0 weight 1\n')).toEqual({
      routes: [],
      unparsed: ['\tnexthop via 10.0.0.1 dev eth0 weight 1'],
    });
  });
});
