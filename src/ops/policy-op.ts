/**
 * `policy POD`: every network policy that selects the pod, ingress and egress, in the order Calico evaluates them,
 * each rule in one line — what a person otherwise reconstructs from `kubectl get netpol,networkpolicies.crd…,
 * globalnetworkpolicies.crd… -A -o yaml`. Policies that exist but are not evaluated (other tiers, admin network
 * policies) are listed with why, never left out.
 */
import { headlineFor, sortFindings, type Finding, type ReportSection } from '../model/report.ts';
import { policiesForEndpoint, type DescribedPolicy, type EndpointPolicies } from '../policy/index.ts';
import type { OperationDeps } from './deps.ts';
import { podEndpoint, policyNotices, readPolicyContext } from './policy-facts.ts';
import type { OperationContext, OperationOutcome } from './types.ts';

export interface PolicyCommand {
  namespace: string;
  name: string;
}

export interface PolicyResult {
  pod: { name: string; namespace: string; ip: string | null; node: string | null };
  ingress: DescribedPolicy[];
  egress: DescribedPolicy[];
  notEvaluated: EndpointPolicies['notEvaluated'];
  /** The APIs the policies were read from. */
  read: string[];
  findings: Finding[];
}

function policyLines(list: readonly DescribedPolicy[]): string {
  return list
    .map((p, i) => {
      const head = `${i + 1}. ${p.label} (order ${p.order ?? 'none'}) selects ${p.selects}${p.applies === 'unknown' ? ` — may not apply: ${p.why}` : ''}`;
      const rules = p.rules.length > 0 ? p.rules.map((r) => `   ${r}`) : ['   (no rules)'];
      return [head, ...rules, `   otherwise: ${p.otherwise}`, ...p.notes.map((n) => `   note: ${n}`)].join('\n');
    })
    .join('\n');
}

export async function runPolicy(
  deps: OperationDeps,
  cmd: PolicyCommand,
  ctx: OperationContext,
): Promise<OperationOutcome<PolicyResult>> {
  ctx.onStep('resolving the pod');
  const pod = await deps.cluster.getPod(cmd.namespace, cmd.name);
  ctx.onStep('reading network policies');
  const policy = await readPolicyContext(deps.cluster);
  const endpoint = podEndpoint(pod);
  const label = `${pod.namespace}/${pod.name}`;
  const findings: Finding[] = [];
  const described: EndpointPolicies = endpoint
    ? policiesForEndpoint(endpoint, policy.namespaces, policy.policies, policy.notEvaluated)
    : {
        ingress: [],
        egress: [],
        notEvaluated: policy.notEvaluated.filter((p) => p.namespace === null || p.namespace === pod.namespace),
      };
  if (!endpoint)
    findings.push({
      severity: 'warning',
      code: 'pod_has_no_ip',
      message: `${label} has no IP yet: which ipBlock rules apply cannot be told`,
      evidence: `phase ${pod.phase}`,
    });
  for (const direction of ['ingress', 'egress'] as const) {
    const list = described[direction];
    findings.push(
      list.length === 0
        ? {
            severity: 'info',
            code: `not_isolated_${direction}`,
            message: `no network policy selects ${label} for ${direction}: all ${direction} is allowed (Calico's namespace profile)`,
            evidence: `${policy.policies.length} policies read from ${policy.read.join(', ') || 'no policy API'}`,
          }
        : {
            severity: 'info',
            code: `isolated_${direction}`,
            message: `${list.length} polic${list.length === 1 ? 'y selects' : 'ies select'} ${label} for ${direction}: only what they allow gets ${direction === 'ingress' ? 'in' : 'out'}`,
            evidence: list.map((p) => p.label).join(', '),
          },
    );
  }
  findings.push(...policyNotices(policy, described.notEvaluated));

  const sorted = sortFindings(findings);
  const sections: ReportSection[] = [
    {
      kind: 'preformatted',
      title: `Ingress to ${label} (in evaluation order)`,
      text: described.ingress.length > 0 ? policyLines(described.ingress) : 'no policy: everything is allowed in',
    },
    {
      kind: 'preformatted',
      title: `Egress from ${label} (in evaluation order)`,
      text: described.egress.length > 0 ? policyLines(described.egress) : 'no policy: everything is allowed out',
    },
  ];
  if (described.notEvaluated.length > 0) {
    sections.push({
      kind: 'table',
      title: 'Not evaluated',
      columns: ['KIND', 'NAME', 'WHY'],
      rows: described.notEvaluated.map((p) => [p.kind, `${p.namespace ? `${p.namespace}/` : ''}${p.name}`, p.reason]),
    });
  }
  const result: PolicyResult = {
    pod: { name: pod.name, namespace: pod.namespace, ip: pod.podIP, node: pod.nodeName },
    ingress: described.ingress,
    egress: described.egress,
    notEvaluated: described.notEvaluated,
    read: policy.read,
    findings: sorted,
  };
  return {
    result,
    report: { title: `policy ${label}`, headline: headlineFor(sorted), findings: sorted, sections, attachments: [] },
  };
}
