import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { bgpPeerFinding, diagnoseBgp, type BgpNodeFacts } from '../../../src/ops/bgp-diagnosis.ts';
import { parseBirdProtocols } from '../../../src/parse/bird.ts';
import { routeSource } from '../../../src/ops/routes-op.ts';

const fixture = (name: string) =>
  parseBirdProtocols(readFileSync(new URL(`../parse/fixtures/${name}`, import.meta.url), 'utf8'));
const node = (over: Partial<BgpNodeFacts>): BgpNodeFacts => ({
  name: 'k8s-node1',
  ip: '10.254.1.11',
  calicoIPv4Address: null,
  bird: null,
  birdError: null,
  routes: [],
  bgpDrops: [],
  blocks: [],
  ...over,
});

describe('BGP findings', () => {
  it('reports a peer whose BIRD stopped, with its state, last error and the block that lost its route', () => {
    const n1 = node({ bird: fixture('birdcl-lab-bird2-peer-down.txt') });
    const n2 = node({ name: 'k8s-node2', ip: '10.254.1.12', blocks: ['10.244.0.64/26'] });
    expect(bgpPeerFinding(n1, n2)).toMatchObject({
      code: 'bgp_peer_down',
      message:
        'BGP peer k8s-node2 (10.254.1.12) is Active on k8s-node1: Socket: Connection refused; no route here to its block 10.244.0.64/26',
    });
  });

  it('says nothing of Established sessions', () => {
    const n1 = node({ bird: fixture('birdcl-lab-bird2-established.txt') });
    expect(
      diagnoseBgp([
        n1,
        node({ name: 'k8s-node2', ip: '10.254.1.12', birdError: 'x' }),
        node({ name: 'k8s-node3', ip: '10.254.1.13', birdError: 'x' }),
      ]),
    ).toEqual([]);
  });

  it('reports an autodetected address that is not the InternalIP, and BGP drops with counters', () => {
    const f = diagnoseBgp([
      node({
        calicoIPv4Address: '172.17.0.1/16',
        birdError: 'not read',
        bgpDrops: [
          {
            kind: 'input-drops-bgp',
            description: 'drop rules matching tcp dport 179 (BGP) in INPUT',
            rule: {
              chain: 'INPUT',
              position: 1,
              raw: '-A INPUT -p tcp --dport 179 -j DROP',
              counters: { packets: 7, bytes: 420 },
            },
            counters: { packets: 7, bytes: 420 },
          },
        ],
      }),
    ]);
    expect(f.map((x) => x.code)).toEqual(['calico_address_mismatch', 'bgp_blocked']);
    expect(f[0]!.message).toContain('Calico autodetected 172.17.0.1/16 for k8s-node1, not its InternalIP 10.254.1.11');
    expect(f[1]!.message).toContain('(7 packets dropped)');
  });

  it("tells BIRD's routes from Felix's", () => {
    expect(
      routeSource({
        raw: '',
        destination: '10.244.0.64/26',
        gateway: '10.254.1.12',
        device: 'eth0',
        type: 'unicast',
        protocol: 'bird',
      }),
    ).toBe('bird');
    expect(
      routeSource({
        raw: '',
        destination: '10.244.0.0/26',
        gateway: null,
        device: null,
        type: 'blackhole',
        protocol: '80',
      }),
    ).toBe('felix');
  });
});
