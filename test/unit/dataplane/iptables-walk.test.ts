import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { kubeProxyWalk, nodePortsInSave, ruleArgs } from '../../../src/dataplane/iptables-walk.ts';
import { publishedFixture } from '../parse/published-fixture.ts';
import { iptablesDataplane } from '../../../src/dataplane/iptables-dataplane.ts';
import { inspectServiceRules } from '../../../src/ops/node-facts.ts';
import { answeringShell } from '../../support/answering-shell.ts';
import { nodePortService } from '../../support/service-info.ts';

// iptables-save -t nat from a lab node (kube-proxy ≥ 1.28 layout, written by iptables-restore 1.8.9 nf_tables).
const lab = readFileSync(new URL('./fixtures/lab-iptables-save-nat.txt', import.meta.url), 'utf8');

// Published iptables-save excerpts from an AKS node (kube-proxy before KUBE-EXT existed: KUBE-NODEPORTS marks and
// jumps straight to KUBE-SVC; externalTrafficPolicy Local via KUBE-XLB; REJECT for a Service without endpoints).
const old = readFileSync(new URL('./fixtures/aks-kube-proxy-nodeports.txt', import.meta.url), 'utf8');

describe('kube-proxy rule walk', () => {
  it('follows NodePort 31080 through KUBE-EXT, KUBE-SVC and KUBE-SEP to the DNAT on a lab node', () => {
    const w = kubeProxyWalk(lab, { nodePort: 31080 });
    expect(w.entryRule).toBe(true);
    expect(w.rules[0]).toMatch(
      /^-A KUBE-NODEPORTS -p tcp -m comment --comment "?default\/svc-nodeport:http"? -m tcp --dport 31080 -j KUBE-EXT-/,
    );
    expect(w.dnatTargets).toEqual(['10.244.0.2:8080']);
    expect(w.rules.some((r) => r.startsWith('-A KUBE-SEP-'))).toBe(true);
  });

  it('follows a ClusterIP:port from KUBE-SERVICES', () => {
    expect(kubeProxyWalk(lab, { clusterIP: '10.96.0.100', port: 8080 }).dnatTargets).toEqual(['10.244.0.2:8080']);
    expect(kubeProxyWalk(lab, { clusterIP: '10.96.0.100', port: 9999 })).toEqual({
      entryRule: false,
      rules: [],
      dnatTargets: [],
      rejects: [],
      drops: [],
    });
  });

  it('handles older kube-proxy that jumps from KUBE-NODEPORTS straight to KUBE-SVC', () => {
    const w = kubeProxyWalk(old, { nodePort: 30001 });
    expect(w.entryRule).toBe(true);
    expect(w.dnatTargets).toEqual(['10.244.0.4:6379']);
    expect(w.rules.at(-1)).toBe('-A KUBE-SEP-D5FBLP7RKYOSCD7A -p tcp -m tcp -j DNAT --to-destination 10.244.0.4:6379');
  });

  it('sees that externalTrafficPolicy Local drops NodePort traffic on a node without a local endpoint', () => {
    const w = kubeProxyWalk(old, { nodePort: 30002 });
    expect(w.drops).toEqual([
      '-A KUBE-XLB-5ETJGCYWCRYR2EKE -m comment --comment "default/redis-nodeport-local: has no local endpoints" -j KUBE-MARK-DROP',
    ]);
  });

  it("finds kube-proxy's REJECT for a Service without endpoints, for the NodePort and the ClusterIP", () => {
    expect(kubeProxyWalk(old, { nodePort: 30003 })).toMatchObject({
      entryRule: false,
      rejects: [expect.stringContaining('KUBE-EXTERNAL-SERVICES')],
    });
    expect(kubeProxyWalk(old, { clusterIP: '10.0.109.24', port: 6379 }).rejects).toHaveLength(1);
  });

  it('reports a port with no rule as missing', () => {
    expect(kubeProxyWalk(old, { nodePort: 31999 }).entryRule).toBe(false);
    expect(kubeProxyWalk('', { nodePort: 31080 }).entryRule).toBe(false);
  });

  it('splits rule lines on blanks but keeps quoted comments whole', () => {
    expect(ruleArgs('-A X -m comment --comment "a b: c" -j Y')).toEqual([
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'a b: c',
      '-j',
      'Y',
    ]);
  });
});

describe('NodePorts a node handles', () => {
  it('lists every --dport in KUBE-NODEPORTS once', async () => {
    expect(nodePortsInSave(lab)).toEqual([31080]);
    expect(nodePortsInSave(old)).toEqual([30001, 30002]);
    expect(nodePortsInSave('')).toEqual([]);
  });
});

// More published and lab outputs, kept in test/unit/parse/fixtures and read without their `# Source:` line and
// prompts. Grepped excerpts hold only some chains: the walk follows what is there.
describe('kube-proxy rule walk on published and lab outputs', () => {
  it('follows a ClusterIP from grepped excerpts (xczhw/CloudLabDeployer): both entry rules, three endpoints, the one KUBE-SEP shown', () => {
    const w = kubeProxyWalk(publishedFixture('iptables-clusterip-grep.txt'), {
      clusterIP: '10.106.224.41',
      port: 8080,
    });
    expect(w.entryRule).toBe(true);
    expect(w.rules.slice(0, 2)).toEqual([
      '-A KUBE-SERVICES ! -s 10.244.0.0/16 -d 10.106.224.41/32 -p tcp -m comment --comment "default/kubernetes-bootcamp-v1: cluster IP" -m tcp --dport 8080 -j KUBE-MARK-MASQ',
      '-A KUBE-SERVICES -d 10.106.224.41/32 -p tcp -m comment --comment "default/kubernetes-bootcamp-v1: cluster IP" -m tcp --dport 8080 -j KUBE-SVC-RPP7DHNHMGOIIFDC',
    ]);
    expect(w.rules.filter((r) => r.startsWith('-A KUBE-SVC-RPP7DHNHMGOIIFDC '))).toHaveLength(3);
    expect(w.dnatTargets).toEqual(['10.244.1.2:8080']);
    expect(w).toMatchObject({ rejects: [], drops: [] });
  });

  it('old layout on kind (ishswar/katacoda-scenarios): NodePort 32070 → KUBE-XLB, which drops traffic without a local endpoint', () => {
    const w = kubeProxyWalk(publishedFixture('iptables-kind-xlb-grep.txt'), { nodePort: 32070 });
    expect(w.entryRule).toBe(true);
    expect(w.rules[1]).toBe(
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/test-svc" -m tcp --dport 32070 -j KUBE-XLB-QKNQQNIN727HO3XU',
    );
    expect(w.drops).toEqual([
      '-A KUBE-XLB-QKNQQNIN727HO3XU -m comment --comment "default/test-svc has no local endpoints" -j KUBE-MARK-DROP',
    ]);
    // Local traffic still reaches the Service chain, so its endpoints are listed too.
    expect(w.dnatTargets).toEqual(['10.244.1.3:80', '10.244.2.3:80']);
    expect(
      kubeProxyWalk(publishedFixture('iptables-kind-xlb-grep.txt'), { clusterIP: '10.96.115.88', port: 80 }),
    ).toMatchObject({ dnatTargets: ['10.244.1.3:80', '10.244.2.3:80'], drops: [] });
  });

  it('old layout on kubernetes 1.15 (xusxlinux/Document): NodePort 8000 jumps straight to KUBE-SVC, whose rules the grep left out', () => {
    const save = publishedFixture('iptables-nat-nodeport-3-grep.txt');
    const w = kubeProxyWalk(save, { nodePort: 8000 });
    expect(w.entryRule).toBe(true);
    expect(w.rules).toEqual([
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/nginx-ds:" -m tcp --dport 8000 -j KUBE-MARK-MASQ',
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/nginx-ds:" -m tcp --dport 8000 -j KUBE-SVC-T4RQBNWQFKKBCRET',
    ]);
    expect(w.dnatTargets).toEqual([]);
    // The KUBE-MARK-DROP line matched `grep 8000` by its mark (0x8000), not by a port.
    expect(nodePortsInSave(save)).toEqual([8000]);
  });

  it('new layout in a full iptables-save (kubeadm + flannel, iptables 1.4.21): NodePort → KUBE-EXT → KUBE-SVC → KUBE-SEP', () => {
    const save = publishedFixture('iptables-save-kube-ext-flannel.txt');
    expect(nodePortsInSave(save)).toEqual([31306, 31674, 32117]);
    const w = kubeProxyWalk(save, { nodePort: 32117 });
    expect(w.rules.map((r) => r.split(' ')[1])).toEqual([
      'KUBE-NODEPORTS',
      'KUBE-EXT-KLKESZFIHQ5XX6FZ',
      'KUBE-EXT-KLKESZFIHQ5XX6FZ',
      'KUBE-SVC-KLKESZFIHQ5XX6FZ',
      'KUBE-SVC-KLKESZFIHQ5XX6FZ',
      'KUBE-SEP-PM7R7IIC56RV32VC',
      'KUBE-SEP-PM7R7IIC56RV32VC',
    ]);
    expect(w.dnatTargets).toEqual(['10.1.0.63:8080']);
    expect(kubeProxyWalk(save, { nodePort: 31674 }).dnatTargets).toEqual(['10.1.0.66:80']);
    expect(kubeProxyWalk(save, { clusterIP: '10.2.0.10', port: 9153 }).dnatTargets).toEqual([
      '10.1.0.64:9153',
      '10.1.0.67:9153',
    ]);
    expect(kubeProxyWalk(save, { clusterIP: '10.2.0.1', port: 443 }).dnatTargets).toEqual(['192.168.1.5:6443']);
  });

  it("keeps a port's TCP and UDP Services apart when the protocol is known (kube-dns: 53/tcp and 53/udp)", () => {
    const save = publishedFixture('iptables-save-kube-ext-flannel.txt');
    const chains = (w: { rules: string[] }) => [...new Set(w.rules.map((r) => r.split(' ')[1]))];
    const both = kubeProxyWalk(save, { clusterIP: '10.2.0.10', port: 53 });
    expect(chains(both)).toEqual(expect.arrayContaining(['KUBE-SVC-ERIFXISQEP7F7OF4', 'KUBE-SVC-TCOU7JCQXEZGVUNU']));
    const udp = kubeProxyWalk(save, { clusterIP: '10.2.0.10', port: 53, protocol: 'UDP' });
    expect(chains(udp)).toContain('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(chains(udp)).not.toContain('KUBE-SVC-ERIFXISQEP7F7OF4');
    expect(udp.rules.every((r) => !r.includes('-p tcp'))).toBe(true);
    const tcp = kubeProxyWalk(save, { clusterIP: '10.2.0.10', port: 53, protocol: 'TCP' });
    expect(chains(tcp)).not.toContain('KUBE-SVC-TCOU7JCQXEZGVUNU');
    expect(tcp.dnatTargets.length).toBeGreaterThan(0);
  });

  it('finds the NodePort DNAT in the nat table and the REJECT for a Service without endpoints in the filter table (lab iptables-save)', () => {
    const save = publishedFixture('lab-iptables-save.txt');
    expect(kubeProxyWalk(save, { nodePort: 31080 })).toMatchObject({
      entryRule: true,
      dnatTargets: ['10.244.0.5:8080'],
      rejects: [],
      drops: [],
    });
    expect(kubeProxyWalk(save, { nodePort: 31081 })).toEqual({
      entryRule: false,
      rules: [],
      dnatTargets: [],
      rejects: [
        '-A KUBE-EXTERNAL-SERVICES -p tcp -m comment --comment "default/svc-empty:http has no endpoints" -m addrtype --dst-type LOCAL -m tcp --dport 31081 -j REJECT --reject-with icmp-port-unreachable',
      ],
      drops: [],
    });
    expect(kubeProxyWalk(save, { clusterIP: '10.96.0.80', port: 80 }).dnatTargets).toEqual(['10.244.0.5:8080']);
  });

  it('reads iptables-save -c, whose rules start with their [packets:bytes] counters, like the plain output', () => {
    const plain = publishedFixture('lab-iptables-save.txt');
    const counted = publishedFixture('lab-iptables-save-c.txt');
    for (const entry of [{ nodePort: 31080 }, { nodePort: 31081 }, { clusterIP: '10.96.0.80', port: 80 }])
      expect(kubeProxyWalk(counted, entry)).toEqual(kubeProxyWalk(plain, entry));
    expect(nodePortsInSave(counted)).toEqual([31080]);
  });
});

describe('kube-proxy rule walk: IPv6 and older kube-proxy', () => {
  const here = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

  it("reads ip6tables-save's [addr]:port DNAT targets and a /128 ClusterIP, in the spelling endpoints are compared in (lab ip6tables-save)", () => {
    const save = here('lab-ip6tables-save-nat.txt');
    expect(kubeProxyWalk(save, { nodePort: 31090, protocol: 'TCP' })).toMatchObject({
      entryRule: true,
      dnatTargets: ['[fd00:10:244::5]:8080'],
    });
    // The API may spell the ClusterIP uncompressed; the rule's -d is compared as an address, not as text.
    expect(kubeProxyWalk(save, { clusterIP: 'fd00:10:96:0::80', port: 80 })).toMatchObject({
      entryRule: true,
      dnatTargets: ['[fd00:10:244::5]:8080'],
    });
  });

  it("takes older kube-proxy's KUBE-SERVICES REJECT with addrtype LOCAL and no -d as the NodePort's rejection (calico#2024)", () => {
    const save = here('calico-2024-kube-services-nodeport-reject.txt');
    const w = kubeProxyWalk(save, { nodePort: 31218 });
    expect(w.entryRule).toBe(true);
    expect(w.rejects).toEqual([
      expect.stringMatching(/^-A KUBE-SERVICES -p tcp .*has no endpoints.*--dport 31218 -j REJECT/),
    ]);
  });

  it("does not take a ClusterIP's KUBE-SERVICES REJECT (with -d) for a NodePort of the same number, but finds it for the ClusterIP (weave#3392)", () => {
    const save = here('weave-3392-kube-services-clusterip-rejects.txt');
    expect(kubeProxyWalk(save, { nodePort: 8080 }).rejects).toEqual([]);
    expect(kubeProxyWalk(save, { clusterIP: '10.109.72.150', port: 8080 }).rejects).toHaveLength(1);
    expect(kubeProxyWalk(save, { clusterIP: '10.105.194.19', port: 8080 }).rejects).toEqual([]);
  });
});

describe("a NodePort's rules are read in the Service's family", () => {
  it('an IPv6 Service on a node reached at its IPv4 address: ip6tables-save, not iptables-save', async () => {
    const save = readFileSync(new URL('./fixtures/lab-ip6tables-save-nat.txt', import.meta.url), 'utf8');
    const svc = nodePortService({
      name: 'svc-dual',
      clusterIP: 'fd00:10:96::80',
      selector: { app: 'web' },
      port: 80,
      targetPort: 8080,
      nodePort: 31090,
    });
    const shell = answeringShell({ 'ip6tables-save -t nat': save, 'ip6tables-save -t filter': '*filter\nCOMMIT\n' });
    const rules = await inspectServiceRules(
      shell,
      { name: 'k8s-node1', address: '10.254.0.11' },
      'nodeport',
      svc,
      31090,
      AbortSignal.timeout(5000),
      iptablesDataplane,
    );
    expect(rules).toMatchObject({ entryRule: true, dnatTargets: ['[fd00:10:244::5]:8080'], error: null });
  });
});
