/**
 * Every policy that selects a pod, in Calico's evaluation order, each rule as one readable line: what
 * `k8snet policy POD` prints. Policies whose selection cannot be decided are listed with why; so are the ones
 * k8snet does not evaluate.
 */
import { parseIp } from './cidr.ts';
import { selectorMatches, triAnd, type LabelView, type Tri } from './calico-selector.ts';
import { policyLabel, sortPolicies, type PodEndpoint } from './evaluate.ts';
import type { Direction, NormalizedPolicy, NotEvaluatedPolicy } from './policy-model.ts';

export interface DescribedPolicy {
  label: string;
  kind: NormalizedPolicy['kind'];
  namespace: string | null;
  name: string;
  order: number | null;
  selects: string;
  /** 'unknown' when k8snet cannot tell whether the policy selects the pod (then `why` says so). */
  applies: true | 'unknown';
  why: string | null;
  rules: string[];
  /** What happens when no rule matches. */
  otherwise: string;
  notes: string[];
}

export interface EndpointPolicies {
  ingress: DescribedPolicy[];
  egress: DescribedPolicy[];
  notEvaluated: NotEvaluatedPolicy[];
}

function views(
  pod: PodEndpoint,
  namespaces: Record<string, Record<string, string>>,
): { pod: LabelView; ns: LabelView; sa: LabelView } {
  const nsLabels = namespaces[pod.namespace] ?? null;
  const ns: LabelView = {
    global: false,
    get: (k) =>
      k === 'projectcalico.org/name' || k === 'kubernetes.io/metadata.name'
        ? (nsLabels?.[k] ?? pod.namespace)
        : nsLabels === null
          ? null
          : Object.hasOwn(nsLabels, k)
            ? nsLabels[k]
            : undefined,
  };
  const sa = pod.serviceAccount ?? null;
  return {
    ns,
    sa: { global: false, get: (k) => (sa !== null && k === 'projectcalico.org/name' ? sa : null) },
    pod: {
      global: true,
      get: (k) => {
        if (Object.hasOwn(pod.labels, k)) return pod.labels[k];
        if (k === 'projectcalico.org/namespace') return pod.namespace;
        if (k === 'projectcalico.org/orchestrator') return 'k8s';
        if (k === 'projectcalico.org/serviceaccount' || k === 'pcsa.projectcalico.org/name') return sa;
        if (k.startsWith('pcns.')) return ns.get(k.slice(5));
        return k.startsWith('pcsa.') ? null : undefined;
      },
    },
  };
}

function applies(p: NormalizedPolicy, pod: PodEndpoint, v: ReturnType<typeof views>): Tri {
  if (p.namespace !== null && p.namespace !== pod.namespace) return false;
  if (p.broken || !p.selector) return 'unknown';
  let t = selectorMatches(p.selector, v.pod);
  if (p.namespaceSelector) t = triAnd(t, selectorMatches(p.namespaceSelector, v.ns));
  if (p.serviceAccountSelector) t = triAnd(t, selectorMatches(p.serviceAccountSelector, v.sa));
  return t;
}

function ruleLines(p: NormalizedPolicy, direction: Direction): string[] {
  const lines: string[] = [];
  let lastIndex = -1;
  for (const r of p[direction]) {
    // A Kubernetes rule becomes one Calico rule per peer and port; show them under one number.
    const n = r.index === lastIndex ? '  ' : `${r.index + 1}.`;
    lastIndex = r.index;
    lines.push(`${n} ${r.text}`);
  }
  return lines;
}

export function policiesForEndpoint(
  pod: PodEndpoint,
  namespaces: Record<string, Record<string, string>>,
  policies: readonly NormalizedPolicy[],
  notEvaluated: readonly NotEvaluatedPolicy[] = [],
): EndpointPolicies {
  parseIp(pod.ip, 'pod ip');
  const v = views(pod, namespaces);
  const out: EndpointPolicies = {
    ingress: [],
    egress: [],
    notEvaluated: notEvaluated.filter((p) => p.namespace === null || p.namespace === pod.namespace),
  };
  for (const p of sortPolicies(policies)) {
    const a = applies(p, pod, v);
    if (a === false) continue;
    for (const direction of ['ingress', 'egress'] as const) {
      if (!p.types[direction]) continue;
      out[direction].push({
        label: policyLabel(p),
        kind: p.kind,
        namespace: p.namespace,
        name: p.name,
        order: p.order,
        selects: p.selectorText,
        applies: a,
        why:
          a === 'unknown'
            ? p.broken
              ? `could not be read: ${p.broken}`
              : "depends on the pod's service account labels, which k8snet does not read"
            : null,
        rules: ruleLines(p, direction),
        otherwise:
          p[direction].length === 0
            ? `denies all ${direction} unless an earlier policy decided`
            : 'no matching rule: on to the next policy; deny at the end of the tier',
        notes: p.notes,
      });
    }
  }
  return out;
}
