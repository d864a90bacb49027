import { describe, expect, it } from '@jest/globals';
import { blockOwner, labelRoute } from '../../../src/ops/routes-op.ts';
import { routesFromIpJson } from '../../../src/parse/ip-json.ts';
import type { IpPoolInfo, NodeInfo } from '../../../src/cluster/types.ts';

const pools: IpPoolInfo[] = [
  {
    name: 'default-ipv4-ippool',
    cidr: '10.244.0.0/16',
    blockSize: 26,
    ipipMode: 'Always',
    vxlanMode: 'Never',
    natOutgoing: true,
    disabled: false,
    apiVersion: 'crd.projectcalico.org/v1',
  },
];
const node = (name: string, ip: string, cidr: string, tunnel: string): NodeInfo => ({
  name,
  internalIP: ip,
  addresses: [],
  podCIDRs: [cidr],
  vxlanTunnelIP: null,
  ipipTunnelIP: tunnel,
  ready: true,
  labels: {},
});

describe('route labels', () => {
  // A Calico node in IP-in-IP mode (shape of the route tables in Calico's troubleshooting docs).
  const routes = routesFromIpJson(
    JSON.stringify([
      { dst: 'default', gateway: '192.168.1.1', dev: 'eth0', protocol: 'dhcp', metric: 100, flags: [] },
      { type: 'blackhole', dst: '10.244.140.64/26', protocol: 'bird', flags: [] },
      { dst: '10.244.140.65', dev: 'cali3e3e1e8b52a', scope: 'link', flags: [] },
      { dst: '10.244.196.128/26', gateway: '192.168.1.12', dev: 'tunl0', protocol: 'bird', flags: ['onlink'] },
      { dst: '10.244.17.0/26', gateway: '192.168.1.13', dev: 'eth0', protocol: 'bird', flags: [] },
      { dst: '192.168.1.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.168.1.11', flags: [] },
      {
        dst: '172.17.0.0/16',
        dev: 'docker0',
        protocol: 'kernel',
        scope: 'link',
        prefsrc: '172.17.0.1',
        flags: ['linkdown'],
      },
    ]),
  );

  it('labels every kind of route a Calico node has', () => {
    expect(routes.map((r) => labelRoute(r, pools))).toEqual([
      'default',
      'blackhole-local-block',
      'local-pod',
      'remote-block-ipip',
      'remote-block-direct',
      'host-network',
      'host-network',
    ]);
    expect(
      labelRoute(
        { raw: '', destination: '10.244.0.64/26', gateway: '10.244.0.64', device: 'vxlan.calico', type: 'unicast' },
        pools,
      ),
    ).toBe('remote-block-vxlan');
  });

  it('names the node that owns a remote block, by gateway or by pod CIDR', () => {
    const nodes = [
      node('k8s-node2', '192.168.1.12', '10.244.196.128/26', '10.244.196.128'),
      node('k8s-node3', '192.168.1.13', '10.244.17.0/26', '10.244.17.0'),
    ];
    expect(blockOwner(routes[3]!, nodes)).toBe('k8s-node2');
    expect(blockOwner(routes[4]!, nodes)).toBe('k8s-node3');
  });

  it("names an IPv6 block's owner by its vxlan-v6.calico address (IPv6VXLANTunnelAddr) or its IPv6 InternalIP", () => {
    const dual = {
      ...node('k8s-node2', '192.168.1.12', '10.244.196.128/26', '10.244.196.128'),
      addresses: [
        { type: 'InternalIP', address: '192.168.1.12' },
        { type: 'InternalIP', address: 'fd00:1::12' },
      ],
      vxlanTunnelIPv6: 'fd00:10:244::40',
    };
    const [viaTunnel, direct] = routesFromIpJson(
      JSON.stringify([
        {
          dst: 'fd00:10:244::40/122',
          gateway: 'fd00:10:244::40',
          dev: 'vxlan-v6.calico',
          protocol: '80',
          flags: ['onlink'],
        },
        { dst: 'fd00:10:244::80/122', gateway: 'fd00:1::12', dev: 'eth0', protocol: 'bird', flags: [] },
      ]),
    );
    expect(labelRoute(viaTunnel!, [...pools, { ...pools[0]!, cidr: 'fd00:10:244::/64' }])).toBe('remote-block-vxlan');
    expect([blockOwner(viaTunnel!, [dual]), blockOwner(direct!, [dual])]).toEqual(['k8s-node2', 'k8s-node2']);
  });
});
