import { describe, expect, it } from '@jest/globals';
import { parseIpLinkText } from '../../../src/parse/link-text.ts';
import { publishedFixture } from './published-fixture.ts';

// `ip link`, `ip -d link` and `ip addr` without -o print the same interface line, then indented lines (link/ether,
// inet …, the -d details) that belong to it. Only the interface lines are read; addresses come from `ip -j addr`.
describe('ip link text', () => {
  it('reads a published Calico IP-in-IP node: tunl0@NONE, cali*@if3 veths, a down kube-ipvs0, and keeps the pasted routes aside', () => {
    const { links, unparsed } = parseIpLinkText(publishedFixture('ip-link-route-ipip-node.txt'));
    expect(links).toEqual([
      { name: 'lo', up: true, mtu: 65536 },
      { name: 'ens33', up: true, mtu: 1500 },
      { name: 'docker0', up: true, mtu: 1500 },
      { name: 'kube-ipvs0', up: false, mtu: 1500 },
      { name: 'cali2cbbb27c005', up: true, mtu: 1440 },
      { name: 'calib880bc9a460', up: true, mtu: 1440 },
      { name: 'tunl0', up: true, mtu: 1440 },
    ]);
    expect(unparsed).toHaveLength(9);
    expect(unparsed[4]).toBe('blackhole 10.244.3.0/24 proto bird ');
  });

  it('skips the detail lines of `ip -d link` (veth, vxlan id 4096 … dstport 4789) on a lab node', () => {
    expect(parseIpLinkText(publishedFixture('lab-ip-d-link.txt'))).toEqual({
      links: [
        { name: 'lo', up: true, mtu: 65536 },
        { name: 'eth0', up: true, mtu: 1500 },
        { name: 'vxlan.calico', up: true, mtu: 1450 },
        { name: 'cali1234abcd567', up: true, mtu: 1500 },
      ],
      unparsed: [],
    });
  });

  it.each([
    [
      'ip-addr-calico-vxlan-forum.txt',
      [
        ['lo', true, 65536],
        ['enp3s0', true, 1500],
        ['enp5s0', true, 1500],
        ['docker0', true, 1500],
        ['wg0', true, 1420],
        ['cali6acdeba6410', true, 1440],
        ['vxlan.calico', true, 1370],
      ],
    ],
    [
      'lab-ip-addr.txt',
      [
        ['lo', true, 65536],
        ['eth0', true, 1500],
        ['vxlan.calico', true, 1450],
        ['cali1234abcd567', true, 1500],
      ],
    ],
    [
      'lab-ip-addr-pod.txt',
      [
        ['lo', true, 65536],
        ['eth0', true, 1500],
      ],
    ],
  ])('reads the interface lines of `ip addr` (%s) and passes over its address lines', (name, expected) => {
    const { links, unparsed } = parseIpLinkText(publishedFixture(name));
    expect(links.map((l) => [l.name, l.up, l.mtu])).toEqual(expected);
    expect(unparsed).toEqual([]);
  });

  it('takes the UP flag, not the carrier: docker0 without containers is administratively up with NO-CARRIER', () => {
    const { links } = parseIpLinkText(publishedFixture('ip-addr-calico-vxlan-forum.txt'));
    expect(links.find((l) => l.name === 'docker0')).toEqual({ name: 'docker0', up: true, mtu: 1500 });
  });
});
