import { describe, expect, it } from '@jest/globals';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import { hostKillers, policyProgrammed, walkFelixChains } from '../../../src/calico/felix-chains.ts';
import { calicoFixture } from './fixture.ts';

describe("walking one workload's chains (calico-accountant excerpt)", () => {
  const filter = parseIptablesSave(calicoFixture('calico-accountant-iptables-save-c.txt')).tables.get('filter')!;
  const walk = walkFelixChains(filter, 'cali5125b8e5d77');

  it('finds both workload chains, the policy each direction jumps to, and the profiles', () => {
    expect(walk.ingress.workloadChainExists).toBe(true);
    expect(walk.ingress.policies.map((p) => p.chain)).toEqual(['cali-pi-_hvIhg5e42MGXRa9paIF']);
    expect(walk.egress.policies.map((p) => p.chain)).toEqual(['cali-po-_hvIhg5e42MGXRa9paIF']);
    expect(walk.ingress.policies[0]!.jump.counters).toEqual({ packets: 3, bytes: 180 });
    expect(walk.ingress.profiles.map((p) => p.profile)).toEqual(['kns.default']);
  });

  it('reports each direction\'s "Drop if no policies passed packet" rule with its counters', () => {
    expect(walk.egress.noPolicyDrops).toEqual([
      expect.objectContaining({ chain: 'cali-fw-cali5125b8e5d77', position: 6, counters: { packets: 2, bytes: 164 } }),
    ]);
    expect(walk.ingress.noPolicyDrops[0]!.counters).toEqual({ packets: 0, bytes: 0 });
    expect(walk.ingress.noProfileDrop?.position).toBe(9);
  });

  it('says when the dispatch entry and the policy chain are not in the excerpt', () => {
    expect(walk.ingress.dispatchEntry).toBeNull();
    expect(walk.ingress.policies[0]!.chainExists).toBe(false);
  });

  it('says an interface with no chains has no workload chain', () => {
    expect(walkFelixChains(filter, 'cali000000000000').ingress.workloadChainExists).toBe(false);
  });
});

describe('is this policy programmed?', () => {
  it("recognises calico#5761's Kubernetes policy by its ≤3.28 chain name and by its comment", () => {
    const text = `${calicoFixture('calico-issue-5761-iptables-save-c-grep.txt')}[0:0] -A cali-tw-cali1 -m comment --comment "cali:rYjWtMya5MVONeA_" -m mark --mark 0x0/0x20000 -j cali-pi-_DYtwCKMZFWyxK2RhACP\n`;
    const walk = walkFelixChains(parseIptablesSave(text).tables.get('filter')!, 'cali1');
    const answer = policyProgrammed(walk, {
      direction: 'ingress',
      kind: 'KubernetesNetworkPolicy',
      namespace: 'test',
      name: 'default-ingress-egress-deny',
    });
    expect(answer).toMatchObject({ programmed: true, by: 'chain-name' });
    expect(answer.match!.decoded).toMatchObject({
      kind: 'KubernetesNetworkPolicy',
      namespace: 'test',
      name: 'default-ingress-egress-deny',
    });
    expect(
      policyProgrammed(walk, {
        direction: 'egress',
        kind: 'KubernetesNetworkPolicy',
        namespace: 'test',
        name: 'default-ingress-egress-deny',
      }).programmed,
    ).toBe(false);
  });

  it("recognises app-policy#15's unhashed 2018 chain cali-po-default.database by name", () => {
    const walk = walkFelixChains(
      parseIptablesSave(calicoFixture('app-policy-issue-15-iptables-save-c-fw.txt')).tables.get('filter')!,
      'cali4876a21f409',
    );
    expect(walk.egress.policies[0]!.jump.counters).toEqual({ packets: 418, bytes: 40128 });
    expect(
      policyProgrammed(walk, { direction: 'egress', kind: 'GlobalNetworkPolicy', name: 'database' }),
    ).toMatchObject({ programmed: true, by: 'chain-name' });
    expect(walk.egress.profiles.map((p) => p.profile)).toEqual(['kns.default', null]);
  });

  it('follows dispatch children and policy groups, and reads the 3.32 comment and the end-of-tier drop', () => {
    const text = [
      '*filter',
      ':FORWARD DROP [7:420]',
      '[9:540] -A cali-FORWARD -o cali+ -m comment --comment "cali:a" -j cali-to-wl-dispatch',
      '[9:540] -A cali-to-wl-dispatch -o cali1+ -m comment --comment "cali:b" -g cali-to-wl-dispatch-1',
      '[9:540] -A cali-to-wl-dispatch-1 -o cali1abc -m comment --comment "cali:c" -g cali-tw-cali1abc',
      '[9:540] -A cali-tw-cali1abc -m comment --comment "cali:d" -m comment --comment "Start of tier default" -j MARK --set-xmark 0x0/0x20000',
      '[9:540] -A cali-tw-cali1abc -m comment --comment "cali:e" -m mark --mark 0x0/0x20000 -j cali-gi-AAAA',
      '[5:300] -A cali-tw-cali1abc -m comment --comment "cali:f" -m comment --comment "End of tier default. Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP',
      '[9:540] -A cali-gi-AAAA -m comment --comment "cali:g" -j cali-pi-knp/ns1/allow-web',
      '[0:0] -A cali-pi-knp/ns1/allow-web -m comment --comment "cali:h" -m comment --comment "KubernetesNetworkPolicy ns1/allow-web ingress" -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x10000/0x10000',
      'COMMIT',
    ].join('\n');
    const filter = parseIptablesSave(text).tables.get('filter')!;
    const walk = walkFelixChains(filter, 'cali1abc');
    expect(walk.ingress.forwardEntry?.chain).toBe('cali-FORWARD');
    expect(walk.ingress.dispatchEntry).toMatchObject({ chain: 'cali-to-wl-dispatch-1' });
    expect(walk.ingress.policies).toEqual([
      expect.objectContaining({
        chain: 'cali-pi-knp/ns1/allow-web',
        viaGroup: 'cali-gi-AAAA',
        tier: 'default',
        chainExists: true,
      }),
    ]);
    expect(walk.ingress.noPolicyDrops).toEqual([
      expect.objectContaining({ tier: 'default', counters: { packets: 5, bytes: 300 } }),
    ]);
    expect(
      policyProgrammed(walk, {
        direction: 'ingress',
        kind: 'KubernetesNetworkPolicy',
        namespace: 'ns1',
        name: 'allow-web',
      }),
    ).toMatchObject({ programmed: true, by: 'chain-name' });
    expect(hostKillers(filter)).toEqual([
      {
        kind: 'forward-policy-drop',
        description: 'FORWARD policy DROP',
        rule: null,
        counters: { packets: 7, bytes: 420 },
      },
    ]);
  });
});

describe('host-level drops', () => {
  it('finds INPUT rules dropping VXLAN, IP-in-IP and BGP, with counters, through a chain INPUT jumps to', () => {
    const filter = parseIptablesSave(
      [
        '*filter',
        ':INPUT ACCEPT [0:0]',
        '[0:0] -A INPUT -m comment --comment "cali:Cz_u1IQiXIMmKD4c" -j cali-INPUT',
        '[3:150] -A INPUT -j FW',
        '[0:0] -A cali-INPUT -p udp -m udp --dport 4789 -j DROP',
        '[2:100] -A FW -p udp -m udp --dport 4789 -j DROP',
        '[1:60] -A FW -p ipencap -j DROP',
        '[4:240] -A FW -p tcp -m tcp --dport 179 -j REJECT --reject-with icmp-port-unreachable',
        '[0:0] -A FW -p tcp -m tcp --dport 22 -j DROP',
        'COMMIT',
      ].join('\n'),
    ).tables.get('filter')!;
    expect(hostKillers(filter).map((k) => [k.kind, k.description, k.counters?.packets])).toEqual([
      ['input-drops-vxlan', 'drop rules matching udp dport 4789 (VXLAN) in FW', 2],
      ['input-drops-ipip', 'drop rules matching protocol 4 (IP-in-IP) in FW', 1],
      ['input-drops-bgp', 'drop rules matching tcp dport 179 (BGP) in FW', 4],
    ]);
  });
});
