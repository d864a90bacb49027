import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { nftablesWalk, nftRuleText, nodePortsInNft, parseNftTable } from '../../../src/dataplane/nftables-walk.ts';
import { nftablesDataplane } from '../../../src/dataplane/nftables-dataplane.ts';

/** The fixture's first line is its `# Source:`; the rest is nft's JSON as printed. */
const fixture = (name: string) =>
  readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8').replace(/^# Source:.*\n/, '');
const overall = fixture('kube-proxy-nftables-overall.json');
const flushed = fixture('kube-proxy-nftables-flushed.json');

describe('the kube-proxy nftables walk (published TestOverallNFTablesRules, loaded by real nft)', () => {
  it('follows service-ips → service chain → numgen vmap → every endpoint chain to its DNAT', () => {
    const walk = nftablesWalk(overall, { clusterIP: '172.30.0.44', port: 80, protocol: 'TCP' });
    expect(walk.entryRule).toBe(true);
    expect(walk.dnatTargets).toEqual(['10.180.0.4:80', '10.180.0.5:80']);
    expect(walk.rules[0]).toBe('add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips');
    expect(walk.rules[1]).toBe(
      'element service-ips { 172.30.0.44 . tcp . 80 : goto service-LAUZTJTB-ns4/svc4/tcp/p80 }',
    );
    expect(walk.rules).toContain(
      'add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80, 1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 }',
    );
    expect(walk.rules).toContain(
      'add rule ip kube-proxy endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 meta l4proto tcp dnat to 10.180.0.4:80',
    );
    expect(walk.rules).toContain(
      'add rule ip kube-proxy service-LAUZTJTB-ns4/svc4/tcp/p80 ip daddr 172.30.0.44 ip saddr != 10.0.0.0/8 jump mark-for-masquerade',
    );
    expect(walk.rejects).toEqual([]);
    expect(walk.drops).toEqual([]);
    expect(walk.nodePortAddresses).toBeUndefined();
  });

  it('walks a NodePort through service-nodeports and the external chain, answering only on the nodeport-ips set', () => {
    const walk = nftablesWalk(overall, { nodePort: 3003, protocol: 'TCP' });
    expect(walk.entryRule).toBe(true);
    expect(walk.dnatTargets).toEqual(['10.180.0.3:80']);
    expect(walk.rules.slice(0, 3)).toEqual([
      'add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports',
      'element service-nodeports { tcp . 3003 : goto external-4AT6LBPK-ns3/svc3/tcp/p80 }',
      'add rule ip kube-proxy external-4AT6LBPK-ns3/svc3/tcp/p80 jump mark-for-masquerade',
    ]);
    expect(walk.nodePortAddresses).toEqual(['192.168.0.2']);
  });

  it('a ClusterIP without endpoints is rejected through no-endpoint-services → reject-chain', () => {
    const walk = nftablesWalk(overall, { clusterIP: '172.30.0.46', port: 80, protocol: 'TCP' });
    expect(walk.entryRule).toBe(false);
    expect(walk.dnatTargets).toEqual([]);
    expect(walk.rejects).toEqual([
      'add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
      'element no-endpoint-services { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }',
      'add rule ip kube-proxy reject-chain reject',
    ]);
  });

  it('a Local-policy NodePort without local endpoints is dropped (no-endpoint-nodeports : drop)', () => {
    const walk = nftablesWalk(overall, { nodePort: 3001, protocol: 'TCP' });
    expect(walk.drops).toContain('element no-endpoint-nodeports { tcp . 3001 comment "ns2/svc2:p80" : drop }');
    expect(walk.rejects).toEqual([]);
  });

  it('does not match another protocol or port of the same ClusterIP', () => {
    expect(nftablesWalk(overall, { clusterIP: '172.30.0.41', port: 80, protocol: 'UDP' }).entryRule).toBe(false);
    expect(nftablesWalk(overall, { clusterIP: '172.30.0.41', port: 443 }).entryRule).toBe(false);
  });

  it('after `nft flush table ip kube-proxy` the map elements remain but no rule dispatches to them: no entry', () => {
    expect(parseNftTable(flushed).sets.get('service-ips')?.length).toBe(9);
    const walk = nftablesWalk(flushed, { clusterIP: '172.30.0.41', port: 80, protocol: 'TCP' });
    expect(walk).toMatchObject({ entryRule: false, rules: [], dnatTargets: [], rejects: [] });
  });

  it('an empty output (no table) walks to nothing', () => {
    expect(nftablesWalk('', { nodePort: 3003 })).toEqual({
      entryRule: false,
      rules: [],
      dnatTargets: [],
      rejects: [],
      drops: [],
      nodePortAddresses: [],
    });
  });

  it('lists the NodePorts the service-nodeports map forwards', () => {
    expect(nodePortsInNft(overall)).toEqual([3001, 3002, 3003]);
    expect(nftablesDataplane.nodePorts([overall, ''])).toEqual([3001, 3002, 3003]);
  });

  it('renders rules in nft text form, masquerading marks included', () => {
    const masq = parseNftTable(overall)
      .chains.get('masquerading')!
      .map((r) => nftRuleText(r));
    expect(masq).toEqual([
      'add rule ip kube-proxy masquerading mark and 0x4000 == 0 return',
      'add rule ip kube-proxy masquerading mark set mark xor 0x4000',
      'add rule ip kube-proxy masquerading masquerade fully-random',
    ]);
  });
});

describe('the nftables implementation of the dataplane seam', () => {
  it("reads kube-proxy's ip table, and its ip6 table when there is one, with catalogue commands", () => {
    expect(nftablesDataplane.commands().map((c) => c.argv)).toEqual([
      ['nft', '-j', 'list', 'table', 'ip', 'kube-proxy'],
    ]);
    expect(nftablesDataplane.optionalCommands!().map((c) => c.argv)).toEqual([
      ['nft', '-j', 'list', 'table', 'ip6', 'kube-proxy'],
    ]);
  });

  it("walks an IPv6 Service's NodePort in the ip6 table, an IPv4 one's in the ip table", () => {
    const v4 = nftablesDataplane.walk([overall, ''], { nodePort: 3003 });
    expect([v4.entryRule, v4.dnatTargets]).toEqual([true, ['10.180.0.3:80']]);
    // The same table handed over as the ip6 one: found there only when the Service is IPv6.
    expect(nftablesDataplane.walk(['', overall], { nodePort: 3003, family: 6 })).toEqual(v4);
    expect(nftablesDataplane.walk(['', overall], { nodePort: 3003 }).entryRule).toBe(false);
  });

  it('walks an IPv6 ClusterIP in the ip6 table', () => {
    expect(nftablesDataplane.walk([overall, ''], { clusterIP: 'fd00:10:96::1', port: 80 }).entryRule).toBe(false);
    expect(nftablesDataplane.walk([overall, ''], { clusterIP: '172.30.0.41', port: 80 }).dnatTargets).toEqual([
      '10.180.0.1:80',
    ]);
  });
});
