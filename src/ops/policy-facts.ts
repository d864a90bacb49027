/**
 * The API side of network policy for the operations: every policy the cluster serves, normalized by src/policy,
 * the namespaces' labels, and the pods as the evaluator sees them; then the verdicts for one connection and the
 * findings and section they give. Reading is I/O over ClusterReader; everything after it is pure.
 */
import type { ClusterReader, PodInfo } from '../cluster/types.ts';
import { describeError } from '../errors.ts';
import type { Finding, ReportSection } from '../model/report.ts';
import {
  evaluateConnection,
  normalizePolicies,
  preparePolicies,
  type ConnectionProtocol,
  type ConnectionVerdict,
  type NormalizedPolicy,
  type NotEvaluatedPolicy,
  type PodEndpoint,
  type PolicyProblem,
  type SideVerdict,
  type TierInfo,
} from '../policy/index.ts';

export interface PolicyContext {
  /** Sorted in evaluation order once, for every verdict of the job. */
  policies: NormalizedPolicy[];
  /** Calico's tiers in evaluation order. */
  tiers: TierInfo[];
  notEvaluated: NotEvaluatedPolicy[];
  problems: PolicyProblem[];
  namespaces: Record<string, Record<string, string>>;
  /** Which APIs answered, and which could not be read (then verdicts may miss policies). */
  read: string[];
  errors: string[];
}

export async function readPolicyContext(cluster: ClusterReader): Promise<PolicyContext> {
  const [objects, namespaces] = await Promise.all([cluster.listPolicyObjects(), cluster.listNamespaces()]);
  const normalized = normalizePolicies(objects.objects);
  return {
    policies: preparePolicies(normalized.policies),
    tiers: normalized.tiers,
    notEvaluated: normalized.notEvaluated,
    problems: normalized.problems,
    namespaces: Object.fromEntries(namespaces.map((n) => [n.name, n.labels])),
    read: objects.read,
    errors: objects.errors,
  };
}

/** A pod as the evaluator sees it; null for a pod without an IP (nothing to judge yet). */
export function podEndpoint(pod: PodInfo): PodEndpoint | null {
  if (!pod.podIP) return null;
  return {
    kind: 'pod',
    name: pod.name,
    namespace: pod.namespace,
    ip: pod.podIP,
    labels: pod.labels,
    serviceAccount: pod.serviceAccount ?? null,
    containerPorts: pod.containers.flatMap((c) =>
      c.ports.map((p) => ({ port: p.containerPort, protocol: p.protocol, ...(p.name ? { name: p.name } : {}) })),
    ),
  };
}

export interface PortVerdict {
  port: number;
  protocol: ConnectionProtocol;
  verdict: ConnectionVerdict;
}

/** The ports to judge: the one asked for, else every port the destination's containers declare for `protocol`. */
export function portsToJudge(
  dst: PodInfo,
  asked: number | undefined,
): { port: number; protocol: ConnectionProtocol }[] {
  if (asked !== undefined) return [{ port: asked, protocol: 'TCP' }];
  const seen = new Map<string, { port: number; protocol: ConnectionProtocol }>();
  for (const c of dst.containers) {
    for (const p of c.ports) {
      const protocol = p.protocol.toUpperCase();
      if (protocol === 'TCP' || protocol === 'UDP' || protocol === 'SCTP')
        seen.set(`${p.containerPort}/${protocol}`, { port: p.containerPort, protocol });
    }
  }
  return [...seen.values()].sort((a, b) => a.port - b.port);
}

export function judgeConnection(
  ctx: PolicyContext,
  src: PodEndpoint,
  dst: PodEndpoint,
  ports: readonly { port: number; protocol: ConnectionProtocol }[],
): PortVerdict[] {
  return ports.map(({ port, protocol }) => ({
    port,
    protocol,
    verdict: evaluateConnection(
      {
        src,
        dst,
        namespaces: ctx.namespaces,
        port,
        protocol,
        policies: ctx.policies,
        tiers: ctx.tiers,
        notEvaluated: ctx.notEvaluated,
      },
      { presorted: true },
    ),
  }));
}

const label = (e: PodEndpoint) => `${e.namespace}/${e.name}`;

function decidedText(side: SideVerdict): string {
  const d = side.decidedBy;
  if (!d) return side.reason;
  if (d.kind === 'profile') return `${side.reason}`;
  const rule =
    d.ruleIndex === null ? 'no rule matched' : `rule ${d.ruleIndex + 1}${d.ruleText ? `: ${d.ruleText}` : ''}`;
  return `${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name} (order ${d.order ?? 'none'}), ${rule}`;
}

/**
 * Findings for the connection: a denial names the side, the policy and the rule (or the absence of one) — a problem;
 * an undecidable verdict says why — a warning; an allowed one says which rule allowed it — information. Policies
 * that exist but were not evaluated, objects that could not be read, and APIs that did not answer are said too.
 */
export function policyFindings(
  ctx: PolicyContext,
  src: PodEndpoint,
  dst: PodEndpoint,
  verdicts: readonly PortVerdict[],
): Finding[] {
  const out: Finding[] = [];
  // One cause, one finding: ports that the same policy and rule decide the same way are named together.
  const groups = new Map<string, { side: SideVerdict; ports: string[] }>();
  const allowedPorts: string[] = [];
  let allowedEvidence = '';
  for (const v of verdicts) {
    const port = `${v.port}/${v.protocol}`;
    for (const side of [v.verdict.egress, v.verdict.ingress]) {
      if (side.verdict === 'allow') continue;
      const d = side.decidedBy;
      const key = `${side.direction} ${side.verdict} ${d ? `${d.kind} ${d.namespace} ${d.name} ${d.ruleIndex}` : side.reason}`;
      const group = groups.get(key) ?? { side, ports: [] };
      group.ports.push(port);
      groups.set(key, group);
    }
    if (v.verdict.allowed === true) {
      allowedPorts.push(port);
      const deciding = [v.verdict.egress, v.verdict.ingress]
        .filter((s) => s.isolated)
        .map((s) => `${s.direction}: ${decidedText(s)}`);
      allowedEvidence ||=
        deciding.join('; ') || `no policy selects ${label(src)} for egress or ${label(dst)} for ingress`;
    }
  }
  for (const { side, ports } of groups.values()) {
    const target = `${label(dst)}:${ports.join(',')}`;
    const where = side.direction === 'egress' ? `egress from ${label(src)}` : `ingress to ${label(dst)}`;
    const reason = ports.length > 1 ? side.reason.replace(/ to port \S+$/, '') : side.reason;
    if (side.verdict === 'deny') {
      out.push({
        severity: 'error',
        code: side.direction === 'egress' ? 'policy_denies_egress' : 'policy_denies_ingress',
        message: `network policy denies ${label(src)} → ${target} (${where}): ${reason}`,
        evidence: decidedText(side),
      });
    } else {
      out.push({
        severity: 'warning',
        code: 'policy_not_evaluable',
        message: `could not evaluate the network policy for ${where} (${label(src)} → ${target}): ${reason}`,
        evidence: decidedText(side),
      });
    }
  }
  if (allowedPorts.length > 0) {
    out.push({
      severity: 'info',
      code: 'policy_allows',
      message: `network policy allows ${label(src)} → ${label(dst)}:${allowedPorts.join(',')}${allowedEvidence.startsWith('no policy') ? ' (no policy selects either pod)' : ''}`,
      evidence: allowedEvidence,
    });
  }
  out.push(
    ...policyNotices(
      ctx,
      ctx.notEvaluated.filter(
        (p) => p.namespace === null || p.namespace === src.namespace || p.namespace === dst.namespace,
      ),
    ),
  );
  return out;
}

/** The Policy section: each side's isolation, then one verdict line per port. */
export function policySection(src: PodEndpoint, dst: PodEndpoint, verdicts: readonly PortVerdict[]): ReportSection {
  const lines: string[] = [];
  const first = verdicts[0]?.verdict;
  if (first) {
    lines.push(
      `egress of ${label(src)}: ${first.egress.isolated ? `isolated by ${first.egress.considered.map((c) => `${c.namespace ? `${c.namespace}/` : ''}${c.name}`).join(', ')}` : 'not isolated (no policy selects it for egress)'}`,
    );
    lines.push(
      `ingress of ${label(dst)}: ${first.ingress.isolated ? `isolated by ${first.ingress.considered.map((c) => `${c.namespace ? `${c.namespace}/` : ''}${c.name}`).join(', ')}` : 'not isolated (no policy selects it for ingress)'}`,
    );
  }
  for (const v of verdicts) {
    const word = v.verdict.allowed === true ? 'ALLOWED' : v.verdict.allowed === false ? 'DENIED' : 'UNKNOWN';
    lines.push(`${label(src)} → ${label(dst)}:${v.port}/${v.protocol}: ${word}`);
    for (const side of [v.verdict.egress, v.verdict.ingress])
      lines.push(`  ${side.direction.padEnd(7)} ${side.verdict.padEnd(7)} ${decidedText(side)}`);
  }
  if (verdicts.length === 0) lines.push(`no port to judge: ${label(dst)} declares no container port; give --port`);
  return { kind: 'preformatted', title: 'Policy', text: lines.join('\n') };
}

/** Reading policies failed as a whole: one warning, and trace goes on without a policy verdict. */
export function policyReadFailed(err: unknown): Finding {
  return {
    severity: 'warning',
    code: 'policy_api_unreadable',
    message: `network policies could not be read: ${describeError(err)}`,
    evidence: describeError(err),
  };
}

/**
 * What may make a verdict incomplete, as warnings: policies that exist but were not evaluated (`notEvaluated`, already
 * narrowed to the pods concerned), objects that could not be read, and APIs that did not answer.
 */
export function policyNotices(
  ctx: Pick<PolicyContext, 'problems' | 'errors'>,
  notEvaluated: readonly NotEvaluatedPolicy[],
): Finding[] {
  return [
    ...notEvaluated.map((p): Finding => ({
      severity: 'warning',
      code: 'policy_not_evaluated',
      message: `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} was not evaluated: ${p.reason}`,
      evidence: `${p.apiVersion} ${p.kind}`,
    })),
    ...ctx.problems.map((p): Finding => ({
      severity: 'warning',
      code: 'policy_unreadable',
      message: `could not evaluate ${p.object}: ${p.message}`,
      evidence: p.object,
    })),
    ...ctx.errors.map((e): Finding => ({
      severity: 'warning',
      code: 'policy_api_unreadable',
      message: `network policies could not be read from ${e}; the verdict may miss them`,
      evidence: e,
    })),
  ];
}
