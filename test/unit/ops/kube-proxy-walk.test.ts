import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { kubeProxyWalk, ruleArgs } from '../../../src/ops/kube-proxy-walk.ts';

// iptables-save -t nat from a lab node (kube-proxy ≥ 1.28 layout, written by iptables-restore 1.8.9 nf_tables).
const lab = readFileSync(new URL('./fixtures/lab-iptables-save-nat.txt', import.meta.url), 'utf8');

// Published iptables-save excerpts from an AKS node (kube-proxy before KUBE-EXT existed: KUBE-NODEPORTS marks and
// jumps straight to KUBE-SVC; externalTrafficPolicy Local via KUBE-XLB; REJECT for a Service without endpoints).
const old = readFileSync(new URL('./fixtures/aks-kube-proxy-nodeports.txt', import.meta.url), 'utf8');

describe('kube-proxy rule walk', () => {
  it('follows NodePort 31080 through KUBE-EXT, KUBE-SVC and KUBE-SEP to the DNAT on a lab node', () => {
    const w = kubeProxyWalk(lab, { nodePort: 31080 });
    expect(w.entryRule).toBe(true);
    expect(w.rules[0]).toMatch(/^-A KUBE-NODEPORTS -p tcp -m comment --comment "?default\/svc-nodeport:http"? -m tcp --dport 31080 -j KUBE-EXT-/);
    expect(w.dnatTargets).toEqual(['10.244.0.2:8080']);
    expect(w.rules.some((r) => r.startsWith('-A KUBE-SEP-'))).toBe(true);
  });

  it('follows a ClusterIP:port from KUBE-SERVICES', () => {
    expect(kubeProxyWalk(lab, { clusterIP: '10.96.0.100', port: 8080 }).dnatTargets).toEqual(['10.244.0.2:8080']);
    expect(kubeProxyWalk(lab, { clusterIP: '10.96.0.100', port: 9999 })).toEqual({ entryRule: false, rules: [], dnatTargets: [], rejects: [], drops: [] });
  });

  it('handles older kube-proxy that jumps from KUBE-NODEPORTS straight to KUBE-SVC', () => {
    const w = kubeProxyWalk(old, { nodePort: 30001 });
    expect(w.entryRule).toBe(true);
    expect(w.dnatTargets).toEqual(['10.244.0.4:6379']);
    expect(w.rules.at(-1)).toBe('-A KUBE-SEP-D5FBLP7RKYOSCD7A -p tcp -m tcp -j DNAT --to-destination 10.244.0.4:6379');
  });

  it('sees that externalTrafficPolicy Local drops NodePort traffic on a node without a local endpoint', () => {
    const w = kubeProxyWalk(old, { nodePort: 30002 });
    expect(w.drops).toEqual(['-A KUBE-XLB-5ETJGCYWCRYR2EKE -m comment --comment "default/redis-nodeport-local: has no local endpoints" -j KUBE-MARK-DROP']);
  });

  it('finds kube-proxy\'s REJECT for a Service without endpoints, for the NodePort and the ClusterIP', () => {
    expect(kubeProxyWalk(old, { nodePort: 30003 })).toMatchObject({ entryRule: false, rejects: [expect.stringContaining('KUBE-EXTERNAL-SERVICES')] });
    expect(kubeProxyWalk(old, { clusterIP: '10.0.109.24', port: 6379 }).rejects).toHaveLength(1);
  });

  it('reports a port with no rule as missing', () => {
    expect(kubeProxyWalk(old, { nodePort: 31999 }).entryRule).toBe(false);
    expect(kubeProxyWalk('', { nodePort: 31080 }).entryRule).toBe(false);
  });

  it('splits rule lines on blanks but keeps quoted comments whole', () => {
    expect(ruleArgs('-A X -m comment --comment "a b: c" -j Y')).toEqual(['-A', 'X', '-m', 'comment', '--comment', 'a b: c', '-j', 'Y']);
  });
});

describe('NodePorts a node handles', () => {
  it('lists every --dport in KUBE-NODEPORTS once', async () => {
    const { nodePortsInSave } = await import('../../../src/ops/health-report.ts');
    expect(nodePortsInSave(lab)).toEqual([31080]);
    expect(nodePortsInSave(old)).toEqual([30001, 30002]);
    expect(nodePortsInSave('')).toEqual([]);
  });
});
