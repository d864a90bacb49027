/**
 * Would Calico let this connection through? Pure evaluation of normalized policies with Calico's semantics
 * (https://docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy and the NetworkPolicy
 * reference https://docs.tigera.io/calico/latest/reference/resources/networkpolicy):
 *
 * - tiers in order (their Tier objects' order; default 1 000 000); in each, the policies applying to the endpoint
 *   for the direction, sorted by order (none = last), then name;
 * - in each policy, rules in order: the first matching Allow / Deny decides, Log is recorded and evaluation goes
 *   on, Pass skips the rest of the tier (to the next tier; after the last, the namespace profile kns.<ns> allows);
 * - a policy with no matching rule hands over to the next; if some policy of a tier applied and none decided: the
 *   tier's default action (Deny; Pass on Calico 3.30+ tiers that say so);
 * - no applying policy in any tier: the namespace profile allows.
 *
 * Anything k8snet cannot decide (an unknown label, a broken policy, an HTTP match) yields 'unknown' with the
 * reason at the first point the outcome depends on it, never a guess.
 */
import { cidrContains, parseCidr, parseIp, type Cidr, type ParsedIp } from './cidr.ts';
import {
  selectorMatches,
  triAnd,
  triNot,
  triOr,
  type CalicoSelector,
  type LabelView,
  type Tri,
} from './calico-selector.ts';
import {
  PROTOCOL_NUMBERS,
  protocolName,
  type Direction,
  type EntityMatch,
  type NormalizedPolicy,
  type NormalizedRule,
  type NotEvaluatedPolicy,
  type PortMatch,
  type RuleAction,
  type TierInfo,
} from './policy-model.ts';

export interface ContainerPort {
  name?: string;
  port: number;
  protocol: string;
}

export interface PodEndpoint {
  kind: 'pod';
  name: string;
  namespace: string;
  ip: string;
  labels: Record<string, string>;
  /** null/absent = not known (selectors on service accounts then answer 'unknown'). */
  serviceAccount?: string | null;
  containerPorts: ContainerPort[];
}

export interface ExternalEndpoint {
  kind: 'external';
  ip: string;
}

export type Endpoint = PodEndpoint | ExternalEndpoint;

/** A Calico NetworkSet (namespace set) or GlobalNetworkSet (namespace null): labels for IPs outside the pods. */
export interface NetworkSet {
  name: string;
  namespace: string | null;
  labels: Record<string, string>;
  nets: string[];
}

export type ConnectionProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface ConnectionInput {
  src: Endpoint;
  dst: Endpoint;
  /** Namespace name → its labels. */
  namespaces: Record<string, Record<string, string>>;
  port: number;
  protocol: ConnectionProtocol;
  policies: readonly NormalizedPolicy[];
  /** The tiers in evaluation order (normalizePolicies' `tiers`); absent: every policy is in one tier, `default`. */
  tiers?: readonly TierInfo[];
  /** Shown as caveats on the verdict: policies that exist but were not evaluated. */
  notEvaluated?: readonly NotEvaluatedPolicy[];
  /**
   * The cluster's NetworkSets and GlobalNetworkSets. Absent = not read: a Calico selector that could match an
   * external IP through a network set then answers 'unknown'. Present (even empty) = complete.
   */
  networkSets?: readonly NetworkSet[];
}

export type VerdictKind = 'allow' | 'deny' | 'unknown';

export interface DecidedBy {
  kind: 'NetworkPolicy' | 'CalicoNetworkPolicy' | 'GlobalNetworkPolicy' | 'profile';
  namespace: string | null;
  name: string;
  order: number | null;
  /** 0-based rule index; null = no rule matched (end-of-tier default deny, or the profile). */
  ruleIndex: number | null;
  action: RuleAction | 'Deny (end of tier)';
  ruleText: string | null;
}

export interface ConsideredPolicy {
  kind: NormalizedPolicy['kind'];
  tier: string;
  namespace: string | null;
  name: string;
  order: number | null;
}

export interface SideVerdict {
  direction: Direction;
  /** Some policy selects this endpoint for this direction. */
  isolated: boolean;
  verdict: VerdictKind;
  decidedBy: DecidedBy | null;
  reason: string;
  considered: ConsideredPolicy[];
  /** Log rules that matched on the way. */
  logged: { name: string; ruleIndex: number }[];
  caveats: string[];
}

export interface ConnectionVerdict {
  egress: SideVerdict;
  ingress: SideVerdict;
  /** 'unknown' when either side is. */
  allowed: boolean | 'unknown';
}

/** Calico's namespace profile name for a Kubernetes namespace (NamespaceProfileNamePrefix "kns."). */
export const profileName = (namespace: string) => `kns.${namespace}`;

const NS_NAME_LABEL = 'projectcalico.org/name';
const K8S_NS_NAME_LABEL = 'kubernetes.io/metadata.name';

interface Resolved {
  ep: Endpoint;
  ip: ParsedIp;
  view: LabelView | null;
  nsView: LabelView | null;
  saView: LabelView | null;
}

function namespaceView(name: string, namespaces: ConnectionInput['namespaces']): LabelView {
  const labels = Object.hasOwn(namespaces, name) ? namespaces[name]! : null;
  return {
    global: false,
    get: (key) => {
      if (key === NS_NAME_LABEL) return name;
      if (labels === null) return key === K8S_NS_NAME_LABEL ? name : null;
      if (Object.hasOwn(labels, key)) return labels[key];
      // The API server has set this label on every namespace since Kubernetes 1.21.
      return key === K8S_NS_NAME_LABEL ? name : undefined;
    },
  };
}

/** Labels Calico gives a pod's workload endpoint: its own, projectcalico.org/*, and its namespace's as pcns.*. */
function podView(pod: PodEndpoint, ns: LabelView): LabelView {
  const sa = pod.serviceAccount ?? null;
  return {
    global: true,
    get: (key) => {
      if (Object.hasOwn(pod.labels, key)) return pod.labels[key];
      if (key === 'projectcalico.org/namespace') return pod.namespace;
      if (key === 'projectcalico.org/orchestrator') return 'k8s';
      if (key === 'projectcalico.org/serviceaccount') return sa;
      if (key.startsWith('pcns.')) return ns.get(key.slice(5));
      if (key === 'pcsa.projectcalico.org/name') return sa;
      if (key.startsWith('pcsa.')) return null; // service account labels are not read
      return undefined;
    },
  };
}

function saView(pod: PodEndpoint): LabelView {
  const sa = pod.serviceAccount ?? null;
  return { global: false, get: (key) => (sa === null ? null : key === NS_NAME_LABEL ? sa : null) };
}

function resolve(ep: Endpoint, namespaces: ConnectionInput['namespaces'], field: string): Resolved {
  const ip = parseIp(ep.ip, field);
  if (ep.kind === 'external') return { ep, ip, view: null, nsView: null, saView: null };
  const nsView = namespaceView(ep.namespace, namespaces);
  return { ep, ip, view: podView(ep, nsView), nsView, saView: saView(ep) };
}

interface Ctx {
  input: ConnectionInput;
  protocol: number;
  sets: { set: NetworkSet; cidrs: Cidr[]; view: LabelView; nsView: LabelView | null }[] | null;
}

/** An external IP's labels, when network sets were not read: Calico's own projectcalico.org/* keys are known absent. */
const UNKNOWN_EXTERNAL: LabelView = {
  global: true,
  get: (key) => (key.startsWith('projectcalico.org/') ? undefined : null),
};

interface Selection {
  selector: CalicoSelector | null;
  namespaceSelector: CalicoSelector | null;
  serviceAccounts: EntityMatch['serviceAccounts'];
}

/** Does the endpoint match selector ∧ namespace condition ∧ service accounts, in the scope of `policy`? */
function endpointSelected(sel: Selection, r: Resolved, policy: NormalizedPolicy, sets: Ctx['sets']): Tri {
  if (!sel.selector && !sel.namespaceSelector && !sel.serviceAccounts) return true;
  if (r.ep.kind === 'pod') {
    let acc: Tri = true;
    if (sel.namespaceSelector) acc = selectorMatches(sel.namespaceSelector, r.nsView!);
    else if (policy.namespace !== null) acc = r.ep.namespace === policy.namespace;
    if (acc === false) return false;
    if (sel.selector) acc = triAnd(acc, selectorMatches(sel.selector, r.view!));
    if (sel.serviceAccounts) {
      const sa = r.ep.serviceAccount ?? null;
      if (sel.serviceAccounts.names)
        acc = triAnd(acc, sa === null ? 'unknown' : sel.serviceAccounts.names.includes(sa));
      if (sel.serviceAccounts.selector) acc = triAnd(acc, selectorMatches(sel.serviceAccounts.selector, r.saView!));
    }
    return acc;
  }
  if (sel.serviceAccounts) return false; // an IP outside the cluster's pods has no service account
  if (sets === null) {
    // Without the network sets: only a selector that no labels could satisfy is decidable.
    const s = sel.selector ? selectorMatches(sel.selector, UNKNOWN_EXTERNAL) : 'unknown';
    return s === false ? false : 'unknown';
  }
  let any: Tri = false;
  for (const { set, cidrs, view, nsView } of sets) {
    if (!cidrs.some((c) => cidrContains(c, r.ip))) continue;
    let m: Tri;
    if (sel.namespaceSelector)
      m =
        nsView === null
          ? selectorMatches(sel.namespaceSelector, { global: true, get: () => undefined })
          : selectorMatches(sel.namespaceSelector, nsView);
    else m = policy.namespace === null ? true : set.namespace === policy.namespace;
    if (sel.selector) m = triAnd(m, selectorMatches(sel.selector, view));
    any = triOr(any, m);
  }
  return any;
}

function notSelected(notSelector: CalicoSelector, r: Resolved, sets: Ctx['sets']): Tri {
  if (r.ep.kind === 'pod') return triNot(selectorMatches(notSelector, r.view!));
  if (sets === null) return selectorMatches(notSelector, UNKNOWN_EXTERNAL) === false ? true : 'unknown';
  let any: Tri = false;
  for (const { cidrs, view } of sets)
    if (cidrs.some((c) => cidrContains(c, r.ip))) any = triOr(any, selectorMatches(notSelector, view));
  return triNot(any);
}

function portMatches(ports: PortMatch[], port: number, r: Resolved, protocol: number): boolean {
  return ports.some((p) => {
    if (p.kind === 'range') return port >= p.min && port <= p.max;
    if (r.ep.kind !== 'pod') return false; // named ports resolve only against pods
    return r.ep.containerPorts.some(
      (c) => c.name === p.name && c.port === port && PROTOCOL_NUMBERS[c.protocol.toUpperCase()] === protocol,
    );
  });
}

interface Match {
  value: Tri;
  why: string;
}

function entityMatches(
  e: EntityMatch,
  r: Resolved,
  role: 'source' | 'destination',
  policy: NormalizedPolicy,
  ctx: Ctx,
): Match {
  if (e.nets && !e.nets.some((n) => cidrContains(n, r.ip))) return { value: false, why: '' };
  if (e.notNets && e.notNets.some((n) => cidrContains(n, r.ip))) return { value: false, why: '' };
  const selected = endpointSelected(e, r, policy, ctx.sets);
  if (selected === false) return { value: false, why: '' };
  let value: Tri = selected;
  let why =
    selected === 'unknown'
      ? `whether ${describeEndpoint(r.ep)} matches the ${role} selector depends on labels k8snet does not know (service account labels, or NetworkSets not read)`
      : '';
  if (e.notSelector) {
    const n = notSelected(e.notSelector, r, ctx.sets);
    if (n === false) return { value: false, why: '' };
    if (n === 'unknown') why ||= `whether ${describeEndpoint(r.ep)} matches the ${role} notSelector is not known`;
    value = triAnd(value, n);
  }
  if (e.ports || e.notPorts) {
    if (role === 'source')
      return { value: 'unknown', why: 'the rule matches source ports, and the client port is not known' };
    if (e.ports && !portMatches(e.ports, ctx.input.port, r, ctx.protocol)) return { value: false, why: '' };
    if (e.notPorts && portMatches(e.notPorts, ctx.input.port, r, ctx.protocol)) return { value: false, why: '' };
  }
  if (e.undecidable.length && value !== false)
    return { value: 'unknown', why: `the rule uses ${e.undecidable.join(', ')}` };
  return { value, why };
}

function ruleMatches(rule: NormalizedRule, src: Resolved, dst: Resolved, policy: NormalizedPolicy, ctx: Ctx): Match {
  if (rule.broken) return { value: 'unknown', why: `the rule could not be read (${rule.broken})` };
  if (rule.ipVersion !== null && rule.ipVersion !== dst.ip.family) return { value: false, why: '' };
  if (rule.protocol !== null && rule.protocol !== ctx.protocol) return { value: false, why: '' };
  if (rule.notProtocol !== null && rule.notProtocol === ctx.protocol) return { value: false, why: '' };
  const s = entityMatches(rule.source, src, 'source', policy, ctx);
  if (s.value === false) return s;
  const d = entityMatches(rule.destination, dst, 'destination', policy, ctx);
  if (d.value === false) return d;
  if (rule.undecidable.length) return { value: 'unknown', why: `the rule uses ${rule.undecidable.join(', ')}` };
  const value = triAnd(s.value, d.value);
  return { value, why: value === 'unknown' ? s.why || d.why : '' };
}

/** What a rule's source or destination says about one pod, by everything but nets and ports. */
export interface EntityPodSelection {
  /** The entity names pods at all (selector, namespaceSelector or serviceAccounts); false = any address. */
  selects: boolean;
  /** The pod matches selector ∧ namespace (namespaceSelector, else the policy's own) ∧ service accounts. */
  selected: Tri;
  /** The pod matches the entity's notSelector (false when there is none). */
  excluded: Tri;
}

/**
 * Which pods a rule's source or destination selects, with the evaluator's own semantics: for renderers that turn
 * selectors into addresses (the lab's Felix, src/lab/felix-rules.ts) instead of deciding one connection.
 */
export function entitySelectsPod(
  e: EntityMatch,
  policy: NormalizedPolicy,
  pod: PodEndpoint,
  namespaces: ConnectionInput['namespaces'],
): EntityPodSelection {
  const r = resolve(pod, namespaces, 'pod ip');
  const selects = Boolean(e.selector || e.namespaceSelector || e.serviceAccounts);
  // sets = []: a pod is never in a network set's scope here, so no set is consulted.
  const selected = selects ? endpointSelected(e, r, policy, []) : true;
  const excluded = e.notSelector ? triNot(notSelected(e.notSelector, r, [])) : false;
  return { selects, selected, excluded };
}

/** Does the policy select this pod for this direction? */
function policyApplies(policy: NormalizedPolicy, r: Resolved, direction: Direction): Match {
  if (!policy.types[direction]) return { value: false, why: '' };
  if (r.ep.kind !== 'pod') return { value: false, why: '' };
  if (policy.namespace !== null && policy.namespace !== r.ep.namespace) return { value: false, why: '' };
  if (policy.broken || !policy.selector)
    return {
      value: 'unknown',
      why: `${policyLabel(policy)} could not be read (${policy.broken ?? 'no selector'}), so it may select ${r.ep.name}`,
    };
  let v = selectorMatches(policy.selector, r.view!);
  if (policy.namespaceSelector) v = triAnd(v, selectorMatches(policy.namespaceSelector, r.nsView!));
  if (policy.serviceAccountSelector) v = triAnd(v, selectorMatches(policy.serviceAccountSelector, r.saView!));
  return {
    value: v,
    why:
      v === 'unknown'
        ? `whether ${policyLabel(policy)} selects ${r.ep.name} depends on its service account's labels, which k8snet does not know`
        : '',
  };
}

export function policyLabel(p: Pick<NormalizedPolicy, 'kind' | 'namespace' | 'name'>): string {
  const where = p.namespace ? `${p.namespace}/${p.name}` : p.name;
  return p.kind === 'GlobalNetworkPolicy'
    ? `GlobalNetworkPolicy ${where}`
    : p.kind === 'CalicoNetworkPolicy'
      ? `Calico NetworkPolicy ${where}`
      : where;
}

function describeEndpoint(ep: Endpoint): string {
  return ep.kind === 'pod' ? `${ep.namespace}/${ep.name}` : ep.ip;
}

/** Calico's order: by order (none = last), then by name. Stable for equal keys. */
export function sortPolicies<T extends Pick<NormalizedPolicy, 'order' | 'calicoName' | 'namespace'>>(
  policies: readonly T[],
): T[] {
  const key = (p: T) => p.order ?? Number.POSITIVE_INFINITY;
  return [...policies].sort(
    (a, b) =>
      key(a) - key(b) ||
      (a.calicoName < b.calicoName ? -1 : a.calicoName > b.calicoName ? 1 : 0) ||
      String(a.namespace).localeCompare(String(b.namespace)),
  );
}

function evaluateSide(
  direction: Direction,
  src: Resolved,
  dst: Resolved,
  ordered: readonly NormalizedPolicy[],
  ctx: Ctx,
): SideVerdict {
  const self = direction === 'egress' ? src : dst;
  const peer = direction === 'egress' ? dst : src;
  const conn = `${describeEndpoint(src.ep)} → ${describeEndpoint(dst.ep)}:${ctx.input.port}/${ctx.input.protocol}`;
  const caveats = (ctx.input.notEvaluated ?? [])
    .filter((p) => p.namespace === null || (self.ep.kind === 'pod' && p.namespace === self.ep.namespace))
    .map((p) => `${p.kind} ${p.namespace ? `${p.namespace}/` : ''}${p.name} not evaluated: ${p.reason}`);
  const out: SideVerdict = {
    direction,
    isolated: false,
    verdict: 'allow',
    decidedBy: null,
    reason: '',
    considered: [],
    logged: [],
    caveats,
  };
  if (self.ep.kind !== 'pod') {
    out.reason = `${describeEndpoint(self.ep)} is not a pod: no pod policy applies to its ${direction}`;
    return out;
  }
  const pod = self.ep;
  const unknown = (why: string) => {
    out.verdict = 'unknown';
    out.reason = `could not evaluate ${direction} of ${conn}: ${why}`;
    return out;
  };
  const tiers =
    ctx.input.tiers && ctx.input.tiers.length > 0
      ? ctx.input.tiers
      : [{ name: 'default', order: null, defaultAction: 'Deny' as const }];
  const tierWord = (t: string) => (tiers.length > 1 || t !== 'default' ? `tier "${t}"` : 'the tier');
  let passedFrom: DecidedBy | null = null;
  tierLoop: for (const [tierIndex, tier] of tiers.entries()) {
    const next = tiers[tierIndex + 1]?.name ?? null;
    const onward = next ? `on to tier "${next}"` : `the namespace profile ${profileName(pod.namespace)} allows`;
    let last: NormalizedPolicy | null = null;
    for (const policy of ordered) {
      if ((policy.tier ?? 'default') !== tier.name && !(tiers.length === 1 && !ctx.input.tiers)) continue;
      const applies = policyApplies(policy, self, direction);
      if (applies.value === false) continue;
      if (applies.value === 'unknown') return unknown(applies.why);
      out.isolated = true;
      last = policy;
      out.considered.push({
        kind: policy.kind,
        tier: policy.tier ?? 'default',
        namespace: policy.namespace,
        name: policy.name,
        order: policy.order,
      });
      for (const rule of policy[direction]) {
        const m = ruleMatches(rule, src, dst, policy, ctx);
        if (m.value === false) continue;
        if (m.value === 'unknown')
          return unknown(`${policyLabel(policy)} rule ${rule.index + 1} ("${rule.text}"): ${m.why}`);
        const decided = (action: RuleAction): DecidedBy => ({
          kind: policy.kind,
          namespace: policy.namespace,
          name: policy.name,
          order: policy.order,
          ruleIndex: rule.index,
          action,
          ruleText: rule.text,
        });
        if (rule.action === 'Log') {
          out.logged.push({ name: policyLabel(policy), ruleIndex: rule.index });
          continue;
        }
        if (rule.action === 'Allow') {
          out.decidedBy = decided('Allow');
          out.reason = `allowed by ${policyLabel(policy)}, ${direction} rule ${rule.index + 1} (${rule.text})`;
          return out;
        }
        if (rule.action === 'Deny') {
          out.verdict = 'deny';
          out.decidedBy = decided('Deny');
          out.reason = `denied by ${policyLabel(policy)}, ${direction} rule ${rule.index + 1} (${rule.text})`;
          return out;
        }
        // Pass: the rest of this tier is skipped; the next tier decides (after the last one, the profile allows).
        passedFrom = decided('Pass');
        out.decidedBy = passedFrom;
        out.reason = `passed by ${policyLabel(policy)}, ${direction} rule ${rule.index + 1}: the rest of ${tierWord(tier.name)} is skipped and ${onward}`;
        continue tierLoop;
      }
    }
    if (!last) continue;
    if (tier.defaultAction === 'Pass') {
      passedFrom = {
        kind: last.kind,
        namespace: last.namespace,
        name: last.name,
        order: last.order,
        ruleIndex: null,
        action: 'Pass',
        ruleText: null,
      };
      out.decidedBy = passedFrom;
      out.reason = `no rule of ${tierWord(tier.name)} matched and its default action is Pass: ${onward}`;
      continue;
    }
    out.verdict = 'deny';
    out.decidedBy = {
      kind: last.kind,
      namespace: last.namespace,
      name: last.name,
      order: last.order,
      ruleIndex: null,
      action: 'Deny (end of tier)',
      ruleText: null,
    };
    const names = out.considered
      .filter((p) => p.tier === tier.name)
      .map((p) => policyLabel(p))
      .join(', ');
    const peerText = peer.ep.kind === 'pod' ? peer.ep.name : peer.ep.ip;
    const count = out.considered.filter((p) => p.tier === tier.name).length;
    out.reason = `denied: ${names} ${count > 1 ? 'select' : 'selects'} ${pod.name}${tier.name !== 'default' ? ` in tier "${tier.name}"` : ''} and no ${direction} rule allows ${direction === 'ingress' ? `${peerText} to port` : `it to ${peerText}:`}${direction === 'ingress' ? ' ' : ''}${ctx.input.port}/${ctx.input.protocol}`;
    return out;
  }
  if (passedFrom) return out;
  out.decidedBy = {
    kind: 'profile',
    namespace: pod.namespace,
    name: profileName(pod.namespace),
    order: null,
    ruleIndex: null,
    action: 'Allow',
    ruleText: null,
  };
  out.reason = `allowed: no policy selects ${pod.name} for ${direction}, so the namespace profile ${profileName(pod.namespace)} allows`;
  return out;
}

/** Sorts once; pass the result to evaluateConnection as `policies` for many connections. */
export const preparePolicies = (policies: readonly NormalizedPolicy[]): NormalizedPolicy[] => sortPolicies(policies);

/** Evaluates one connection: egress of the source, then ingress of the destination. */
export function evaluateConnection(input: ConnectionInput, options: { presorted?: boolean } = {}): ConnectionVerdict {
  const ordered = options.presorted ? input.policies : sortPolicies(input.policies);
  const ctx: Ctx = {
    input,
    protocol: PROTOCOL_NUMBERS[input.protocol]!,
    sets:
      input.networkSets === undefined
        ? null
        : input.networkSets.map((set) => ({
            set,
            cidrs: set.nets.flatMap((n) => {
              try {
                return [parseCidr(n, 'networkSet.nets')];
              } catch {
                return [];
              }
            }),
            view: {
              global: set.namespace === null,
              get: (k: string) =>
                Object.hasOwn(set.labels, k)
                  ? set.labels[k]
                  : k === 'projectcalico.org/namespace'
                    ? (set.namespace ?? undefined)
                    : undefined,
            },
            nsView: set.namespace === null ? null : namespaceView(set.namespace, input.namespaces),
          })),
  };
  let src: Resolved;
  let dst: Resolved;
  try {
    src = resolve(input.src, input.namespaces, 'src.ip');
    dst = resolve(input.dst, input.namespaces, 'dst.ip');
  } catch (err) {
    const side = (direction: Direction): SideVerdict => ({
      direction,
      isolated: false,
      verdict: 'unknown',
      decidedBy: null,
      reason: `could not evaluate: ${(err as Error).message}`,
      considered: [],
      logged: [],
      caveats: [],
    });
    return { egress: side('egress'), ingress: side('ingress'), allowed: 'unknown' };
  }
  const egress = evaluateSide('egress', src, dst, ordered, ctx);
  const ingress = evaluateSide('ingress', src, dst, ordered, ctx);
  const allowed =
    egress.verdict === 'deny' || ingress.verdict === 'deny'
      ? false
      : egress.verdict === 'unknown' || ingress.verdict === 'unknown'
        ? 'unknown'
        : true;
  return { egress, ingress, allowed };
}

export { protocolName };
