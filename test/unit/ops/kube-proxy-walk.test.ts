import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { kubeProxyWalk, ruleArgs } from '../../../src/ops/kube-proxy-walk.ts';

// iptables-save -t nat from a lab node (kube-proxy ≥ 1.28 layout, written by iptables-restore 1.8.9 nf_tables).
const lab = readFileSync(new URL('./fixtures/lab-iptables-save-nat.txt', import.meta.url), 'utf8');

// kube-proxy before KUBE-EXT existed (v1.15 era): KUBE-NODEPORTS marks and jumps straight to KUBE-SVC.
const old = `*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/nginx-svc:" -m tcp --dport 30080 -j KUBE-MARK-MASQ
-A KUBE-NODEPORTS -p tcp -m comment --comment "default/nginx-svc:" -m tcp --dport 30080 -j KUBE-SVC-T4RQBNWQFKKBCRET
-A KUBE-SEP-6N7MZA3YCCVGGI4B -s 10.244.2.3/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-6N7MZA3YCCVGGI4B -p tcp -m tcp -j DNAT --to-destination 10.244.2.3:80
-A KUBE-SEP-QDCO3RGGOEBKJRQR -s 10.244.1.4/32 -j KUBE-MARK-MASQ
-A KUBE-SEP-QDCO3RGGOEBKJRQR -p tcp -m tcp -j DNAT --to-destination 10.244.1.4:80
-A KUBE-SERVICES -d 10.1.78.117/32 -p tcp -m comment --comment "default/nginx-svc: cluster IP" -m tcp --dport 80 -j KUBE-SVC-T4RQBNWQFKKBCRET
-A KUBE-SVC-T4RQBNWQFKKBCRET -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-QDCO3RGGOEBKJRQR
-A KUBE-SVC-T4RQBNWQFKKBCRET -j KUBE-SEP-6N7MZA3YCCVGGI4B
COMMIT
`;

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
    expect(kubeProxyWalk(lab, { clusterIP: '10.96.0.100', port: 9999 })).toEqual({ entryRule: false, rules: [], dnatTargets: [] });
  });

  it('handles older kube-proxy that jumps from KUBE-NODEPORTS straight to KUBE-SVC with two endpoints', () => {
    const w = kubeProxyWalk(old, { nodePort: 30080 });
    expect(w.entryRule).toBe(true);
    expect(w.dnatTargets).toEqual(['10.244.1.4:80', '10.244.2.3:80']);
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
    expect(nodePortsInSave(old)).toEqual([30080]);
    expect(nodePortsInSave('')).toEqual([]);
  });
});
