import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseIpRouteText, parseRouteN } from '../../../src/parse/route-text.ts';
import { labelRoute } from '../../../src/ops/routes-op.ts';
import { lookupRoute } from '../../../src/ops/trace-diagnosis.ts';
import type { IpPoolInfo } from '../../../src/cluster/types.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const pool = (cidr: string): IpPoolInfo[] => [{ name: 'p', cidr, blockSize: 26, ipipMode: 'Always', vxlanMode: 'Never', natOutgoing: true, disabled: false, apiVersion: 'crd.projectcalico.org/v1' }];

describe('route -n (net-tools) from a Calico IP-in-IP node', () => {
  const { routes, unparsed } = parseRouteN(fixture('route-n-calico-ipip.txt'));

  it('reads every route and keeps the prompt and headers as unparsed lines', () => {
    expect(routes).toHaveLength(10);
    expect(unparsed).toEqual(['# Source: github.com/joshrosso/octetz content/c/calico-routing-modes.md ("run on master", Calico IP-in-IP, AWS)', '$ route -n', 'Kernel IP routing table', 'Destination     Gateway         Genmask         Flags Metric Ref    Use Iface']);
  });

  it('turns masks into prefixes, 0.0.0.0 gateways into direct routes, and the * interface into Calico\'s blackhole', () => {
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
    expect(routes.map((r) => labelRoute(r, pools))).toEqual(['default', 'host-network', 'host-network', 'host-network', 'remote-block-ipip', 'remote-block-ipip', 'blackhole-local-block', 'local-pod', 'local-pod', 'remote-block-ipip']);
    expect(lookupRoute(routes, '192.168.133.194')?.raw).toBe('192.168.133.192/26 via 10.30.0.56 dev tunl0');
    expect(lookupRoute(routes, '192.168.219.70')?.type).toBe('blackhole');
  });
});

describe('ip route text', () => {
  it('reads a lab node\'s VXLAN routes with the prompt line kept aside', () => {
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
