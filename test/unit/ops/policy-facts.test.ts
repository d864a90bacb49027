import { describe, expect, it } from '@jest/globals';
import type { PodInfo } from '../../../src/cluster/types.ts';
import { normalizePolicies, preparePolicies } from '../../../src/policy/index.ts';
import {
  judgeConnection,
  podEndpoint,
  policyFindings,
  policySection,
  portsToJudge,
  type PolicyContext,
} from '../../../src/ops/policy-facts.ts';

function pod(
  name: string,
  namespace: string,
  ip: string,
  labels: Record<string, string>,
  ports: number[] = [],
): PodInfo {
  return {
    name,
    namespace,
    uid: name,
    nodeName: 'k8s-node1',
    podIP: ip,
    podIPs: [ip],
    hostIP: null,
    phase: 'Running',
    ready: true,
    hostNetwork: false,
    labels,
    containers: [
      {
        name: 'c',
        containerID: null,
        image: 'x',
        ready: true,
        restartCount: 0,
        ports: ports.map((p) => ({ containerPort: p, protocol: 'TCP', name: `p${p}` })),
      },
    ],
    serviceAccount: 'default',
  };
}

const checkout = pod('checkout-7d9f', 'shop', '10.244.1.5', { app: 'checkout' });
const ledger = pod('ledger-0', 'payments', '10.244.0.7', { app: 'ledger' }, [5432]);

function context(objects: unknown[]): PolicyContext {
  const n = normalizePolicies(objects);
  return {
    policies: preparePolicies(n.policies),
    tiers: n.tiers,
    notEvaluated: n.notEvaluated,
    problems: n.problems,
    namespaces: {
      shop: { 'kubernetes.io/metadata.name': 'shop' },
      payments: { 'kubernetes.io/metadata.name': 'payments' },
    },
    read: ['networking.k8s.io/v1 networkpolicies'],
    errors: [],
  };
}

const denyIngress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'default-deny-ingress', namespace: 'payments' },
  spec: { podSelector: {}, policyTypes: ['Ingress'] },
};
const allowCheckout = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'allow-checkout', namespace: 'payments' },
  spec: {
    podSelector: { matchLabels: { app: 'ledger' } },
    ingress: [
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } },
            podSelector: { matchLabels: { app: 'checkout' } },
          },
        ],
        ports: [{ port: 5432 }],
      },
    ],
  },
};

describe('network policy findings for a connection', () => {
  it('judges the destination container ports when no port was asked', () => {
    expect(portsToJudge(ledger, undefined)).toEqual([{ port: 5432, protocol: 'TCP' }]);
    expect(portsToJudge(ledger, 80)).toEqual([{ port: 80, protocol: 'TCP' }]);
  });

  it('names the default-deny policy that stops the connection, as a problem', () => {
    const ctx = context([denyIngress]);
    const verdicts = judgeConnection(
      ctx,
      podEndpoint(checkout)!,
      podEndpoint(ledger)!,
      portsToJudge(ledger, undefined),
    );
    const findings = policyFindings(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, verdicts);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'error', code: 'policy_denies_ingress' });
    expect(findings[0]!.message).toContain('payments/ledger-0:5432/TCP');
    expect(findings[0]!.message).toContain('default-deny-ingress');
    expect(findings[0]!.evidence).toContain('NetworkPolicy payments/default-deny-ingress');
    const section = policySection(podEndpoint(checkout)!, podEndpoint(ledger)!, verdicts);
    expect(section).toMatchObject({ title: 'Policy' });
    expect((section as { text: string }).text).toContain('shop/checkout-7d9f → payments/ledger-0:5432/TCP: DENIED');
  });

  it('says which rule allows it when an allow policy is added', () => {
    const ctx = context([denyIngress, allowCheckout]);
    const verdicts = judgeConnection(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, [
      { port: 5432, protocol: 'TCP' },
    ]);
    const findings = policyFindings(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, verdicts);
    expect(findings.map((f) => f.severity)).toEqual(['info']);
    expect(findings[0]!.evidence).toContain('allow-checkout');
    expect(findings[0]!.evidence).toContain('rule 1');
    // Another port of the same pods stays denied.
    const other = judgeConnection(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, [{ port: 22, protocol: 'TCP' }]);
    expect(policyFindings(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, other)[0]).toMatchObject({
      severity: 'error',
      code: 'policy_denies_ingress',
    });
  });

  it('never reports a malformed policy as allowing: it cannot be evaluated, and says so', () => {
    const broken = {
      ...denyIngress,
      metadata: { name: 'broken', namespace: 'payments' },
      spec: { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] },
    };
    const ctx = context([broken]);
    const verdicts = judgeConnection(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, [
      { port: 5432, protocol: 'TCP' },
    ]);
    expect(verdicts[0]!.verdict.allowed).not.toBe(true);
    const findings = policyFindings(ctx, podEndpoint(checkout)!, podEndpoint(ledger)!, verdicts);
    expect(findings.some((f) => f.code === 'policy_unreadable' && f.message.includes('broken'))).toBe(true);
    expect(findings.some((f) => f.code === 'policy_allows')).toBe(false);
  });
});
