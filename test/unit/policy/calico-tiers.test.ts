/**
 * Calico's tiers, as documented (docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy): tiers are
 * evaluated in order; within a tier the first matching Allow or Deny decides; Pass (or a tier's defaultAction Pass,
 * Calico 3.30+) goes on to the next tier; a tier that selected the endpoint but decided nothing denies; after the
 * last tier the namespace profile allows. Kubernetes NetworkPolicies are in the default tier.
 */
import { describe, expect, it } from '@jest/globals';
import { evaluateConnection, normalizePolicies, type PodEndpoint } from '../../../src/policy/index.ts';

const pod = (name: string, namespace: string, ip: string, labels: Record<string, string>): PodEndpoint => ({
  kind: 'pod',
  name,
  namespace,
  ip,
  labels,
  serviceAccount: 'default',
  containerPorts: [{ port: 5432, protocol: 'TCP', name: 'pg' }],
});
const checkout = pod('checkout', 'shop', '10.244.1.5', { app: 'checkout' });
const ledger = pod('ledger-0', 'payments', '10.244.0.7', { app: 'ledger' });
const namespaces = { shop: {}, payments: {} };

const tier = (name: string, order: number, defaultAction?: 'Pass' | 'Deny') => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'Tier',
  metadata: { name },
  spec: { order, ...(defaultAction ? { defaultAction } : {}) },
});
const gnp = (name: string, tierName: string, order: number, action: string) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `${tierName}.${name}` },
  spec: {
    tier: tierName,
    order,
    selector: "app == 'ledger'",
    types: ['Ingress'],
    ingress: [{ action, protocol: 'TCP', source: { selector: "app == 'checkout'" } }],
  },
});
const denyAll = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'default-deny', namespace: 'payments' },
  spec: { podSelector: {}, policyTypes: ['Ingress'] },
};
const allowCheckout = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'allow-checkout', namespace: 'payments' },
  spec: {
    podSelector: {},
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'checkout' } } }] }],
  },
};

function ingress(objects: unknown[]) {
  const n = normalizePolicies(objects);
  return evaluateConnection({
    src: checkout,
    dst: ledger,
    namespaces,
    port: 5432,
    protocol: 'TCP',
    policies: n.policies,
    tiers: n.tiers,
    notEvaluated: n.notEvaluated,
  }).ingress;
}

describe("Calico's tiers", () => {
  it('a Pass in an earlier tier hands the connection to the Kubernetes policies of the default tier', () => {
    expect(ingress([tier('security', 100), gnp('pass-checkout', 'security', 10, 'Pass'), denyAll])).toMatchObject({
      verdict: 'deny',
      decidedBy: { name: 'default-deny', action: 'Deny (end of tier)' },
    });
    const allowed = ingress([
      tier('security', 100),
      gnp('pass-checkout', 'security', 10, 'Pass'),
      denyAll,
      allowCheckout,
    ]);
    expect(allowed).toMatchObject({ verdict: 'allow', decidedBy: { name: 'allow-checkout', action: 'Allow' } });
  });

  it('an earlier tier decides before any Kubernetes policy is looked at', () => {
    expect(ingress([tier('security', 100), gnp('deny-checkout', 'security', 10, 'Deny'), allowCheckout])).toMatchObject(
      { verdict: 'deny', decidedBy: { kind: 'GlobalNetworkPolicy', name: 'deny-checkout', action: 'Deny' } },
    );
  });

  it('a tier after the default tier is reached only by what the default tier passed or did not select', () => {
    const late = [tier('baseline', 2_000_000), gnp('deny-checkout', 'baseline', 10, 'Deny')];
    expect(ingress([...late, allowCheckout])).toMatchObject({
      verdict: 'allow',
      decidedBy: { name: 'allow-checkout' },
    });
    expect(ingress(late)).toMatchObject({ verdict: 'deny', decidedBy: { name: 'deny-checkout' } });
  });

  it('a tier that selected the pod but matched no rule denies, unless its defaultAction is Pass', () => {
    const other = {
      ...gnp('only-frontend', 'security', 10, 'Allow'),
      spec: {
        ...gnp('x', 'security', 10, 'Allow').spec,
        ingress: [{ action: 'Allow', source: { selector: "app == 'frontend'" } }],
      },
    };
    expect(ingress([tier('security', 100), other])).toMatchObject({
      verdict: 'deny',
      decidedBy: { name: 'only-frontend', action: 'Deny (end of tier)' },
    });
    expect(ingress([tier('security', 100, 'Pass'), other]).verdict).toBe('allow');
    expect(ingress([tier('security', 100, 'Pass'), other]).reason).toMatch(/default action is Pass/);
  });

  it('a policy in a tier whose Tier object was not read is listed as not evaluated, never guessed', () => {
    const n = normalizePolicies([gnp('deny-checkout', 'security', 10, 'Deny'), allowCheckout]);
    expect(n.notEvaluated).toEqual([
      expect.objectContaining({ name: 'deny-checkout', reason: expect.stringContaining('Tier object was not read') }),
    ]);
    expect(n.policies.map((p) => p.name)).toEqual(['allow-checkout']);
  });
});
