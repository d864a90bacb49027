/**
 * Hand-written policies for the lab's policy topology (src/lab/topologies/policy.yaml: pod-src and pod-other in
 * `default` on k8s-node2, pod-dest in `payments` on k8s-node1), shared by the renderer's unit tests and the lab's
 * enforcement tests, which kubectl-apply the same objects.
 */

/** A Calico GlobalNetworkPolicy denying pod-src → pod-dest:80, ordered before the Kubernetes allow (order 1000). */
export const GNP_DENY_SRC = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: 'deny-src-to-dest' },
  spec: {
    order: 10,
    selector: "type == 'dest'",
    types: ['Ingress'],
    ingress: [{ action: 'Deny', protocol: 'TCP', source: { selector: "type == 'src'" }, destination: { ports: [80] } }],
  },
};

/** A Calico NetworkPolicy in payments passing pod-other's traffic on past the Kubernetes policies (to the profile). */
export const PASS_OTHER = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name: 'pass-other', namespace: 'payments' },
  spec: {
    order: 100,
    selector: "type == 'dest'",
    types: ['Ingress'],
    ingress: [
      {
        action: 'Pass',
        source: { selector: "type == 'other'", namespaceSelector: "kubernetes.io/metadata.name == 'default'" },
      },
    ],
  },
};

/** Default-deny egress for every pod in `default` (the source side). */
export const DENY_EGRESS_DEFAULT = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'default-deny-egress', namespace: 'default' },
  spec: { podSelector: {}, policyTypes: ['Egress'] },
};

/** Lets pod-other in to pod-dest's named port "http" (containerPort 80 in the policy topology). */
export const ALLOW_OTHER_NAMED_PORT = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'allow-other-http', namespace: 'payments' },
  spec: {
    podSelector: { matchLabels: { type: 'dest' } },
    policyTypes: ['Ingress'],
    ingress: [
      {
        from: [{ namespaceSelector: {}, podSelector: { matchLabels: { type: 'other' } } }],
        ports: [{ protocol: 'TCP', port: 'http' }],
      },
    ],
  },
};

/** Ingress to pod-dest from the whole pool except the given CIDRs (an ipBlock with except). */
export function allowPoolExcept(except: string[], pool = '10.244.0.0/16') {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'allow-pool-except', namespace: 'payments' },
    spec: {
      podSelector: { matchLabels: { type: 'dest' } },
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ ipBlock: { cidr: pool, except } }] }],
    },
  };
}
