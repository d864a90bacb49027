import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { bgpPeerFinding, diagnoseBgp, nestBgpFindings, type BgpNodeFacts } from '../../../src/ops/bgp-diagnosis.ts';
import { diagnoseCalicoConfig } from '../../../src/ops/calico-config-diagnosis.ts';
import { flattenFindings, type Finding } from '../../../src/model/report.ts';
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

  it('reports a Calico Node resource whose BGP address is not the InternalIP, and names where each address was read', () => {
    // calico#3003's master1: the Calico Node says 172.16.0.16/32; here the InternalIP is another address.
    const [f] = diagnoseBgp([node({ calicoNodeIPv4Address: '172.16.0.16/32', birdError: 'not read' })]);
    expect(f).toMatchObject({
      code: 'calico_address_mismatch',
      evidence: 'Calico Node spec.bgp.ipv4Address=172.16.0.16/32; status.addresses InternalIP=10.254.1.11',
    });
    const [both] = diagnoseBgp([
      node({ calicoIPv4Address: '172.16.0.16/32', calicoNodeIPv4Address: '172.16.0.16/32', birdError: 'x' }),
    ]);
    expect(both!.evidence).toBe(
      'projectcalico.org/IPv4Address=172.16.0.16/32; Calico Node spec.bgp.ipv4Address=172.16.0.16/32; status.addresses InternalIP=10.254.1.11',
    );
    expect(diagnoseBgp([node({ calicoNodeIPv4Address: '10.254.1.11/24', birdError: 'x' })])).toEqual([]);
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

  it('says every way of reading BIRD that failed', () => {
    const [f] = diagnoseBgp([
      node({ birdError: 'BIRD not readable', birdUnreadable: ['host birdcl: exited 127', 'crictl: exited 127'] }),
    ]);
    expect(f).toMatchObject({
      severity: 'warning',
      code: 'bird_unreadable',
      evidence: 'host birdcl: exited 127; crictl: exited 127',
    });
  });
});

describe('one cause, one problem', () => {
  const codes = (fs: Finding[]): unknown => fs.map((f) => (f.children ? { [f.code]: codes(f.children) } : f.code));
  const n2 = (over: Partial<BgpNodeFacts>) =>
    node({ name: 'k8s-node2', ip: '10.254.1.12', blocks: ['10.244.0.64/26'], birdError: 'x', ...over });
  const noRoute: Finding = {
    severity: 'error',
    code: 'no_route_to_dst',
    message: 'k8s-node1 has no route to default/pod-dest at 10.244.0.66 (pool 10.244.0.0/16)',
    evidence: 'default via 10.254.1.254 dev eth0',
  };

  it("puts first-found's wrong address over the mismatch, and the mismatch over the session it broke", () => {
    // calicoctl#819's mesh session to the address the peer was (wrongly) given, 10.0.5.102: Active.
    const bgp = diagnoseBgp([
      node({ bird: fixture('birdc-calicoctl-819-mesh-active.txt') }),
      n2({ calicoIPv4Address: '10.0.5.102/24' }),
    ]);
    const config = diagnoseCalicoConfig({
      config: {
        calicoNodeEnv: { IP_AUTODETECTION_METHOD: 'first-found' },
        calicoNodeSource: 'daemonset kube-system/calico-node',
        vethMtu: null,
        calicoBackend: 'bird',
        installation: null,
        felix: null,
        clusterCIDR: null,
        errors: [],
      },
      pools: [],
      nodes: [{ name: 'k8s-node2', internalIP: '10.254.1.12', calicoIPv4Address: '10.0.5.102', links: null }],
    });
    const nested = nestBgpFindings([noRoute, ...bgp, ...config], { dstNode: 'k8s-node2' });
    expect(codes(nested)).toEqual([
      { calico_autodetect_first_found: [{ calico_address_mismatch: [{ bgp_peer_down: ['no_route_to_dst'] }] }] },
    ]);
    // The setting that broke a session is a problem, not a hint.
    expect(nested[0]!.severity).toBe('error');
    expect(flattenFindings(nested)).toHaveLength(4);
  });

  it("leaves a session down to the peer's real address outside the mismatch: something else broke it", () => {
    const bgp = diagnoseBgp([
      node({ bird: fixture('birdcl-lab-bird2-peer-down.txt') }),
      n2({ calicoIPv4Address: '172.17.0.1/16' }),
    ]);
    expect(codes(nestBgpFindings(bgp))).toEqual(['bgp_peer_down', 'calico_address_mismatch']);
  });

  it('names tcp/179 dropped on the peer as the cause of the session not Established, with the rule it counted', () => {
    const rule = '-A INPUT -p tcp -m tcp --dport 179 -j DROP';
    const bgp = diagnoseBgp([
      node({ bird: fixture('birdcl-lab-bird2-peer-down.txt') }),
      n2({
        bgpDrops: [
          {
            kind: 'input-drops-bgp',
            description: 'drop rules matching tcp dport 179 (BGP) in INPUT',
            rule: { chain: 'INPUT', position: 1, raw: rule, counters: { packets: 4, bytes: 240 } },
            counters: { packets: 4, bytes: 240 },
          },
        ],
      }),
    ]);
    const counted: Finding = {
      severity: 'error',
      code: 'drop_rule_counted',
      message: 'k8s-node2: a DROP rule counted 2 packets during the test connection',
      evidence: `[+2] ${rule}`,
    };
    const nested = nestBgpFindings([...bgp, counted], {});
    expect(codes(nested)).toEqual([{ bgp_blocked: ['bgp_peer_down', 'drop_rule_counted'] }]);
    expect(nested[0]!.evidence).toBe(rule);
    // Without the drop, the session down stays a cause of its own.
    expect(
      codes(nestBgpFindings(diagnoseBgp([node({ bird: fixture('birdcl-lab-bird2-peer-down.txt') }), n2({})]))),
    ).toEqual(['bgp_peer_down']);
  });
});
