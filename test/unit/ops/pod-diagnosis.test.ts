import { describe, expect, it } from '@jest/globals';
import { diagnosePod, type PodNetnsFacts } from '../../../src/ops/pod-diagnosis.ts';
import { listenersFromSs } from '../../../src/parse/listeners.ts';
import { publishedFixture } from '../parse/published-fixture.ts';

const facts = (): PodNetnsFacts => ({
  podLabel: 'default/pod-pause',
  podIP: '10.244.0.1',
  node: 'k8s-node1',
  caliInterface: 'calid73126c1689',
  netns: 'cni-e19c6e74-5f40-47bd-a501-8875f72b878c',
  foundBy: 'scan',
  addresses: { lo: ['127.0.0.1/8'], eth0: ['10.244.0.1/32'] },
  routesInPod: [
    {
      raw: 'default via 169.254.1.1 dev eth0',
      destination: 'default',
      gateway: '169.254.1.1',
      device: 'eth0',
      type: 'unicast',
    },
    {
      raw: '169.254.1.1 dev eth0 scope link',
      destination: '169.254.1.1',
      gateway: null,
      device: 'eth0',
      type: 'unicast',
    },
  ],
  hostLinks: [{ name: 'calid73126c1689', up: true, mtu: 1450 }],
  hostRoute: {
    raw: '10.244.0.1 dev calid73126c1689 scope link',
    destination: '10.244.0.1',
    gateway: null,
    device: 'calid73126c1689',
    type: 'unicast',
  },
  hostNetwork: false,
  listeners: listenersFromSs(publishedFixture('lab-ss-H-lntp-loopback-only.txt')),
  containerPorts: [9090],
});
const codes = (f: PodNetnsFacts) => diagnosePod(f).map((x) => `${x.severity}:${x.code}`);

describe('pod plumbing diagnosis', () => {
  it('only says where the namespace is when everything is in place', () => {
    expect(codes(facts())).toEqual(['info:netns_found']);
  });

  it('reports a namespace that cannot be found, a missing default route and a missing pod address', () => {
    expect(codes({ ...facts(), netns: null, foundBy: null })).toContain('error:netns_not_found');
    expect(codes({ ...facts(), routesInPod: [] })).toContain('error:pod_no_default_route');
    expect(codes({ ...facts(), addresses: { lo: ['127.0.0.1/8'], eth0: [] } })).toContain('error:pod_ip_not_assigned');
  });

  it('reports the host side: cali interface missing or down, no /32 route', () => {
    expect(codes({ ...facts(), hostLinks: [] })).toContain('error:cali_missing');
    expect(codes({ ...facts(), hostLinks: [{ name: 'calid73126c1689', up: false, mtu: 1450 }] })).toContain(
      'error:cali_down',
    );
    expect(codes({ ...facts(), hostRoute: null })).toContain('error:no_host_route');
  });

  it('reports a declared container port the app holds only on 127.0.0.1 / ::1, as its own finding', () => {
    const found = diagnosePod({ ...facts(), containerPorts: [8080, 9090] });
    expect(found.filter((f) => f.code === 'listener_loopback_only')).toEqual([
      expect.objectContaining({
        severity: 'error',
        message: expect.stringContaining('TCP port 8080 only on 127.0.0.1 and ::1'),
        evidence: 'listening: 127.0.0.1:8080 (python3), [::1]:8080 (python3)',
      }),
    ]);
    expect(codes({ ...facts(), listeners: null, containerPorts: [8080] })).toEqual(['info:netns_found']);
  });
});
