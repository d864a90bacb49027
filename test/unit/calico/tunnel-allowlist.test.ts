import { describe, expect, it } from '@jest/globals';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import { parseIpsetList } from '../../../src/parse/ipset.ts';
import { parseNftTable } from '../../../src/parse/nft-json.ts';
import { tunnelAllowlists } from '../../../src/calico/felix-chains.ts';
import { decodeTunnelAllowlistComment } from '../../../src/calico/felix-names.ts';
import { felixNftSets, felixNftTables } from '../../../src/calico/felix-nft.ts';
import { readTunnelAllowlists } from '../../../src/ops/enforcement-facts.ts';
import { tunnelAllowlistFindings, type NodeFirewallFacts } from '../../../src/ops/packet-path.ts';
import type { NodeFacts } from '../../../src/ops/trace-facts.ts';
import { answeringShell } from '../../support/answering-shell.ts';
import { calicoFixture } from './fixture.ts';

const labSave = parseIptablesSave(calicoFixture('lab-felix-cali-input-iptables-save-c.txt'));
const labIpset = calicoFixture('lab-felix-ipset-list-all-vxlan-net.txt');
const published = parseNftTable(calicoFixture('felix-nftables-calico-9290.json'));

describe("Felix's tunnel allowlists in cali-INPUT", () => {
  it('reads every wording Felix has used', () => {
    expect(
      [
        'Allow IPv4 VXLAN packets from allowed hosts',
        'Drop IPv4 VXLAN packets from non-allowed hosts',
        'Drop IPv6 VXLAN packets from non-allowed hosts',
        'Allow VXLAN packets from whitelisted hosts',
        'Drop VXLAN packets from non-whitelisted hosts',
        'Allow IPIP packets from Calico hosts',
        'Drop IPIP packets from non-Calico hosts',
        'Drop VXLAN encapped packets originating in pods',
        'Allow IPv4 VXLAN packets to other allowed hosts',
      ].map(decodeTunnelAllowlistComment),
    ).toEqual([
      { action: 'allow', tunnel: 'vxlan', family: 4 },
      { action: 'drop', tunnel: 'vxlan', family: 4 },
      { action: 'drop', tunnel: 'vxlan', family: 6 },
      { action: 'allow', tunnel: 'vxlan', family: 4 },
      { action: 'drop', tunnel: 'vxlan', family: 4 },
      { action: 'allow', tunnel: 'ipip', family: 4 },
      { action: 'drop', tunnel: 'ipip', family: 4 },
      null,
      null,
    ]);
  });

  it('finds the allow and drop pair and its set on a lab node (as the kernel printed it)', () => {
    const [a, ...rest] = tunnelAllowlists(labSave.tables.get('filter')!);
    expect(rest).toEqual([]);
    expect(a).toMatchObject({ tunnel: 'vxlan', family: 4, set: 'cali40all-vxlan-net' });
    expect(a!.drop.raw).toContain('"Drop IPv4 VXLAN packets from non-allowed hosts"');
    expect(a!.allow!.raw).toContain('--match-set cali40all-vxlan-net src');
    expect(a!.drop.counters).toEqual({ packets: 0, bytes: 0 });
    expect(parseIpsetList(labIpset).sets.get('cali40all-vxlan-net')!.members).toEqual(['10.254.0.11', '10.254.0.12']);
  });

  it('finds the one negated drop rule of Felix ≤ 3.0 (published iptables -L, written as iptables-save prints it)', () => {
    const old = parseIptablesSave(
      [
        '*filter',
        ':cali-INPUT - [0:0]',
        '-A cali-INPUT -m comment --comment "cali:i7okJZpS8VxaJB3n" -m mark --mark 0x1000000/0x1000000 -j ACCEPT',
        '-A cali-INPUT -p ipencap -m comment --comment "cali:p8Wwvr6qydjU36AQ" -m comment --comment "Drop IPIP packets from non-Calico hosts" -m set ! --match-set cali4-all-hosts src -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect(tunnelAllowlists(old.tables.get('filter')!)).toMatchObject([
      { tunnel: 'ipip', set: 'cali4-all-hosts', allow: null },
    ]);
  });

  it("reads Felix's nftables dataplane the same way, the set's members from its own table (published dump)", () => {
    const [a] = tunnelAllowlists(felixNftTables(published).tables.get('filter')!);
    expect(a).toMatchObject({ tunnel: 'vxlan', family: 4, set: 'cali40all-vxlan-net' });
    expect(a!.drop.raw).toMatch(
      /^add rule ip calico filter-cali-INPUT udp dport 4789 fib daddr type local counter drop /,
    );
    expect(felixNftSets(published).get('cali40all-vxlan-net')).toEqual([
      '10.128.0.208',
      '10.128.0.211',
      '10.128.0.213',
    ]);
  });
});

describe('reading and judging them', () => {
  const node = { name: 'k8s-node1', address: '10.254.0.11' };
  const peer = (name: string, ip: string) => ({ name, ip }) as NodeFacts;

  it('iptables mode: one `ipset list <set>`; nftables mode: the set as read with the rules, no ipset call', async () => {
    const shell = answeringShell({ 'ipset list cali40all-vxlan-net': labIpset });
    const read = await readTunnelAllowlists(shell, node, { save: labSave }, 'vxlan', 4, AbortSignal.timeout(5000));
    expect(read.map((r) => r.members)).toEqual([['10.254.0.11', '10.254.0.12']]);
    // Another tunnel, or a node whose ipset cannot be read: nothing to read, or members unknown.
    expect(await readTunnelAllowlists(shell, node, { save: labSave }, 'ipip', 4, AbortSignal.timeout(5000))).toEqual(
      [],
    );
    const unread = await readTunnelAllowlists(answeringShell({}), node, { save: labSave }, 'vxlan', 4, AbortSignal.timeout(5000)); // prettier-ignore
    expect(unread.map((r) => r.members)).toEqual([null]);
    const nft = await readTunnelAllowlists(
      answeringShell({}),
      node,
      { save: felixNftTables(published), sets: felixNftSets(published) },
      'vxlan',
      4,
      AbortSignal.timeout(5000),
    );
    expect(nft.map((r) => [r.members, r.source])).toEqual([
      [['10.128.0.208', '10.128.0.211', '10.128.0.213'], 'nft list table ip calico, set cali40all-vxlan-net'],
    ]);
  });

  it('a peer whose address the set does not list is the cause, with the drop rule and the members; a listed one is fine', async () => {
    const shell = answeringShell({ 'ipset list cali40all-vxlan-net': labIpset.replace('10.254.0.12\n', '') });
    const allowlists = await readTunnelAllowlists(shell, node, { save: labSave }, 'vxlan', 4, AbortSignal.timeout(5000)); // prettier-ignore
    const fw: NodeFirewallFacts = { node: 'k8s-node1', diff: null, killers: [], allowlists };
    const found = tunnelAllowlistFindings(
      [fw],
      [peer('k8s-node1', '10.254.0.11'), peer('k8s-node2', '10.254.0.12')],
      (n) => (n === 'k8s-node2' ? '10.254.0.99/24' : null),
    );
    expect(found).toEqual([
      {
        severity: 'error',
        code: 'tunnel_source_not_allowed',
        message:
          "k8s-node1: Calico drops VXLAN from k8s-node2 (10.254.0.12) before decapsulating it: Felix accepts VXLAN only from the hosts in cali40all-vxlan-net, which does not list 10.254.0.12 (Calico's address for k8s-node2 is 10.254.0.99/24)",
        evidence: `${allowlists[0]!.allowlist.drop.raw}\nipset list cali40all-vxlan-net: 10.254.0.11`,
      },
    ]);
    // A node reached at another address whose uplink address is listed is not judged by the SSH address.
    const viaSsh = { ...peer('k8s-node2', '192.0.2.12'), underlayIPs: ['10.254.0.12'] } as NodeFacts;
    const full = [{ ...fw, allowlists: [{ ...allowlists[0]!, members: ['10.254.0.11', '10.254.0.12'] }] }];
    expect(tunnelAllowlistFindings(full, [viaSsh], () => null)).toEqual([]);
    // A network member covers its hosts (Felix's externalNodesCIDRList).
    const wide = [{ ...fw, allowlists: [{ ...allowlists[0]!, members: ['10.254.0.0/24'] }] }];
    expect(tunnelAllowlistFindings(wide, [peer('k8s-node2', '10.254.0.12')], () => null)).toEqual([]);
    // Members unknown: no verdict from the set (the counted drop speaks for itself).
    const unknown = [{ ...fw, allowlists: [{ ...allowlists[0]!, members: null }] }];
    expect(tunnelAllowlistFindings(unknown, [peer('k8s-node2', '10.254.0.12')], () => null)).toEqual([]);
  });
});
