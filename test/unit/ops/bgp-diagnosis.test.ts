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
  calicoAddress: null,
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
        calicoAddress: '172.17.0.1/16',
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
    const [f] = diagnoseBgp([node({ calicoNodeAddress: '172.16.0.16/32', birdError: 'not read' })]);
    expect(f).toMatchObject({
      code: 'calico_address_mismatch',
      evidence: 'Calico Node spec.bgp.ipv4Address=172.16.0.16/32; status.addresses InternalIP=10.254.1.11',
    });
    const [both] = diagnoseBgp([
      node({ calicoAddress: '172.16.0.16/32', calicoNodeAddress: '172.16.0.16/32', birdError: 'x' }),
    ]);
    expect(both!.evidence).toBe(
      'projectcalico.org/IPv4Address=172.16.0.16/32; Calico Node spec.bgp.ipv4Address=172.16.0.16/32; status.addresses InternalIP=10.254.1.11',
    );
    expect(diagnoseBgp([node({ calicoNodeAddress: '10.254.1.11/24', birdError: 'x' })])).toEqual([]);
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

  it("takes a node without BIRD's socket as BIRD not running when the others' sessions to it are refused", () => {
    const noSocket =
      'host birdcl: … exited 1: Unable to connect to server control socket (/var/run/calico/bird.ctl): No such file or directory';
    const n2 = node({ name: 'k8s-node2', ip: '10.254.1.12', birdError: 'x', birdUnreadable: [noSocket] });
    const withRefusal = diagnoseBgp([node({ bird: fixture('birdcl-lab-bird2-peer-down.txt') }), n2]);
    expect(withRefusal.map((f) => [f.code, f.severity])).toEqual([
      ['bgp_peer_down', 'error'],
      ['bird_not_running', 'error'],
    ]);
    expect(withRefusal[1]!.message).toBe(
      'BIRD is not running on k8s-node2: it has no control socket /var/run/calico/bird.ctl, and k8s-node1\'s session to it is refused, so k8s-node2 has no BGP sessions and announces no blocks (calico-node: "BIRD is not ready")',
    );
    expect(nestBgpFindings(withRefusal).map((f) => [f.code, f.children?.map((c) => c.code)])).toEqual([
      ['bird_not_running', ['bgp_peer_down']],
    ]);
    // Without that evidence (calico_backend: vxlan runs no BIRD at all), a missing socket is only unreadable.
    const alone = diagnoseBgp([n2]);
    expect(alone.map((f) => [f.code, f.severity])).toEqual([['bird_unreadable', 'warning']]);
    expect(alone[0]!.message).toContain('there is no control socket /var/run/calico/bird.ctl');
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

describe('IPv6 BGP (BIRD6, a dual-stack cluster)', () => {
  const six = (over: Partial<BgpNodeFacts>) =>
    node({ family: 6, ip: 'fd69:58aa:4482::b', bird: fixture('birdcl-lab-bird6-established.txt'), ...over });

  it("matches BIRD6's sessions to the peers' IPv6 addresses, whatever their spelling, and says nothing of the IPv4 facts", () => {
    const peers = [
      six({ name: 'k8s-node2', ip: 'fd69:58aa:4482:0:0:0:0:c', bird: null, birdError: 'x' }),
      six({ name: 'k8s-node3', ip: 'fd69:58aa:4482::d', bird: null, birdError: 'x' }),
    ];
    // The same nodes' IPv4 facts beside them are BIRD's business, not BIRD6's sessions.
    const ipv4 = node({ name: 'k8s-node2', ip: '10.254.1.12', birdError: 'x' });
    expect(diagnoseBgp([six({}), ...peers, ipv4])).toEqual([]);
  });

  it('names BIRD6, the IPv6 annotation and IP6_AUTODETECTION_METHOD', () => {
    const found = diagnoseBgp([
      six({ bird: null, birdError: 'x', calicoAddress: 'fd69:58aa:4482::b' }),
      six({ name: 'k8s-node2', ip: 'fd69:58aa:4482::c', bird: null, birdError: 'x', calicoAddress: 'fd00:17::1' }),
      six({
        name: 'k8s-node3',
        ip: 'fd69:58aa:4482::d',
        bird: null,
        birdError: 'x',
        birdUnreadable: ['host birdcl: no'],
      }),
    ]);
    expect(found.map((f) => [f.code, f.message, f.evidence])).toEqual([
      [
        'calico_address_mismatch',
        'Calico autodetected fd00:17::1 for k8s-node2, not its InternalIP fd69:58aa:4482::c: BIRD6 peers from the wrong interface (set IP6_AUTODETECTION_METHOD, e.g. kubernetes-internal-ip)',
        'projectcalico.org/IPv6Address=fd00:17::1; status.addresses InternalIP=fd69:58aa:4482::c',
      ],
      [
        'bird_unreadable',
        "BIRD6's BGP sessions on k8s-node3 could not be read (no birdcl or birdc on the host, nor in a running calico-node container): its peers were not checked",
        'host birdcl: no',
      ],
    ]);
    const missing = bgpPeerFinding(six({}), {
      name: 'k8s-node4',
      ip: 'fd69:58aa:4482::e',
      calicoAddress: null,
      blocks: [],
    });
    expect(missing?.message).toBe("k8s-node1's BIRD6 has no BGP session with k8s-node4 (fd69:58aa:4482::e)");
  });

  it('names BIRD6 not running where its socket refuses connections, over the IPv6 sessions and routes that lost it', () => {
    const refused =
      'host birdcl: timeout 5 sh -c … birdcl -s /var/run/calico/bird6.ctl show protocols all on k8s-node3 exited 1: Unable to connect to server control socket (/var/run/calico/bird6.ctl): Connection refused';
    const [dead] = diagnoseBgp([
      six({ name: 'k8s-node3', ip: 'fd69:58aa:4482::d', bird: null, birdError: 'x', birdUnreadable: [refused] }),
    ]);
    expect(dead).toMatchObject({
      code: 'bird_not_running',
      severity: 'error',
      message:
        'BIRD6 is not running on k8s-node3: nothing answers on its control socket /var/run/calico/bird6.ctl (connection refused), so k8s-node3 has no IPv6 BGP sessions and announces no blocks (calico-node: "BIRD6 is not ready")',
      evidence: 'Unable to connect to server control socket (/var/run/calico/bird6.ctl): Connection refused',
    });
    const finding = (code: string, message: string): Finding => ({ severity: 'error', code, message, evidence: '' });
    const nested = nestBgpFindings([
      finding(
        'bgp_peer_down',
        'BGP peer k8s-node3 (fd69:58aa:4482::d) is Active on k8s-node1: Socket: Connection refused',
      ),
      finding('bgp_peer_down', 'BGP peer k8s-node3 (10.254.1.13) is Active on k8s-node2: Socket: Connection refused'),
      finding('route_to_block_missing', 'route to fd00:10:244::/122 (k8s-node1) missing on k8s-node3'),
      dead!,
    ]);
    // BIRD6 explains the IPv6 session and k8s-node3's missing IPv6 route, not the IPv4 session (BIRD's business).
    expect(nested.map((f) => [f.code, (f.children ?? []).map((c) => c.message.split(':')[0])])).toEqual([
      ['bgp_peer_down', []],
      ['bird_not_running', ['BGP peer k8s-node3 (fd69', 'route to fd00']],
    ]);
  });

  it("puts report's missing route to a peer's block under the node's session with that peer", () => {
    const down = bgpPeerFinding(six({ bird: fixture('birdcl-lab-bird2-peer-down.txt') }), {
      name: 'k8s-node2',
      ip: '10.254.1.12',
      calicoAddress: null,
      blocks: ['fd00:10:244::40/122'],
    })!;
    const route = (block: string, peer: string, on: string): Finding => ({
      severity: 'error',
      code: 'route_to_block_missing',
      message: `route to ${block} (${peer}) missing on ${on}`,
      evidence: 'no matching route (ip -6 route)',
    });
    const nested = nestBgpFindings([
      route('fd00:10:244::40/122', 'k8s-node2', 'k8s-node1'),
      route('fd00:10:244::80/122', 'k8s-node3', 'k8s-node1'),
      down,
    ]);
    expect(nested.map((f) => [f.code, (f.children ?? []).map((c) => c.message)])).toEqual([
      ['route_to_block_missing', []],
      ['bgp_peer_down', ['route to fd00:10:244::40/122 (k8s-node2) missing on k8s-node1']],
    ]);
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
      n2({ calicoAddress: '10.0.5.102/24' }),
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
      n2({ calicoAddress: '172.17.0.1/16' }),
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
