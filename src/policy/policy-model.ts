/**
 * Normalized policies: Kubernetes NetworkPolicy and Calico (Global)NetworkPolicy from raw API JSON, turned
 * into one Calico-shaped model with every selector and CIDR compiled once. Kubernetes policies are converted
 * the way Calico converts them (K8sNetworkPolicyToCalico in projectcalico/calico
 * libcalico-go/lib/backend/k8s/conversion/conversion.go): order 1000, name knp.default.<name>, pod selectors
 * prefixed with `projectcalico.org/orchestrator == 'k8s'`, one Allow rule per peer.
 *
 * Anything malformed becomes a PolicyProblem naming the object; the part that could not be read is kept as a
 * `broken` marker so that evaluation answers "unknown" where it matters instead of skipping it.
 */
import { InvalidInputError, describeError } from '../errors.ts';
import { parseCalicoSelector, type CalicoSelector } from './calico-selector.ts';
import { parseCidr, type Cidr } from './cidr.ts';
import {
  describeLabelSelector,
  isEmptyLabelSelector,
  labelSelectorToCalico,
  parseLabelSelector,
} from './label-selector.ts';
import { LIST_MAX, RULES_MAX } from './limits.ts';

export type PolicyKind = 'NetworkPolicy' | 'CalicoNetworkPolicy' | 'GlobalNetworkPolicy';
export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type Direction = 'ingress' | 'egress';

/** IANA numbers for the protocol names Calico accepts (numorstring.Protocol). */
export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  TCP: 6,
  UDP: 17,
  ICMP: 1,
  ICMPV6: 58,
  SCTP: 132,
  UDPLITE: 136,
};

export type PortMatch = { kind: 'range'; min: number; max: number } | { kind: 'named'; name: string };

export interface ServiceAccountMatch {
  names: string[] | null;
  selector: CalicoSelector | null;
}

export interface EntityMatch {
  nets: Cidr[] | null;
  notNets: Cidr[] | null;
  selector: CalicoSelector | null;
  notSelector: CalicoSelector | null;
  namespaceSelector: CalicoSelector | null;
  serviceAccounts: ServiceAccountMatch | null;
  ports: PortMatch[] | null;
  notPorts: PortMatch[] | null;
  /** Match fields k8snet cannot decide (services, …): the rule answers 'unknown' when everything else matches. */
  undecidable: string[];
}

export interface NormalizedRule {
  /** 0-based index of the rule as written (a Kubernetes rule becomes several Calico rules sharing the index). */
  index: number;
  action: RuleAction;
  /** Protocol number, or null for any. */
  protocol: number | null;
  notProtocol: number | null;
  ipVersion: 4 | 6 | null;
  source: EntityMatch;
  destination: EntityMatch;
  undecidable: string[];
  /** Set when the rule could not be read: evaluation reaching it answers 'unknown'. */
  broken: string | null;
  /** One readable line, e.g. "allow TCP from pods app=web in namespace shop to port 8080". */
  text: string;
}

export interface NormalizedPolicy {
  kind: PolicyKind;
  /** null for GlobalNetworkPolicy. */
  namespace: string | null;
  /** The name people know (the Kubernetes name; a crd-stored "default." prefix removed). */
  name: string;
  /** The name Calico sorts and reports by (knp.default.<name> for Kubernetes policies). */
  calicoName: string;
  /** The Calico tier (Kubernetes policies: `default`); evaluated in the tiers' order (policy-model TierInfo). */
  tier: string;
  /** null = no order: applied last. */
  order: number | null;
  selector: CalicoSelector | null;
  /** GlobalNetworkPolicy only. */
  namespaceSelector: CalicoSelector | null;
  serviceAccountSelector: CalicoSelector | null;
  types: { ingress: boolean; egress: boolean };
  ingress: NormalizedRule[];
  egress: NormalizedRule[];
  /** Set when the policy-level selection could not be read: it may select any pod (verdicts become 'unknown'). */
  broken: string | null;
  /** Plain-words notes from normalization (e.g. a stripped tier prefix). */
  notes: string[];
  /** What the policy selects, in words. */
  selectorText: string;
}

export interface NotEvaluatedPolicy {
  apiVersion: string;
  kind: string;
  namespace: string | null;
  name: string;
  reason: string;
}

export interface PolicyProblem {
  /** e.g. "NetworkPolicy payments/default-deny". */
  object: string;
  severity: 'error' | 'warning';
  message: string;
}

export interface NormalizedPolicies {
  policies: NormalizedPolicy[];
  notEvaluated: NotEvaluatedPolicy[];
  problems: PolicyProblem[];
  /** The tiers that hold evaluated policies, in Calico's order (default included). */
  tiers: TierInfo[];
}

/** A Calico Tier: policies of lower-order tiers are evaluated first; `defaultAction` ends a tier no rule decided. */
export interface TierInfo {
  name: string;
  order: number | null;
  /** Calico 3.30+ lets a tier end in Pass (on to the next tier); Deny before that and by default. */
  defaultAction: 'Deny' | 'Pass';
}

/**
 * The default tier's order when no Tier object says (libcalico-go api DefaultTierOrder, 1 000 000 since Calico 3.30;
 * before, the default tier had no order and came after every ordered tier — which 1 000 000 also gives for the
 * tiers people order below it).
 */
export const DEFAULT_TIER_ORDER = 1_000_000;

/** Tiers in evaluation order: by order (none = last), then by name (Calico's tie-break). */
export function sortTiers(tiers: readonly TierInfo[]): TierInfo[] {
  const key = (t: TierInfo) => t.order ?? Number.POSITIVE_INFINITY;
  return [...tiers].sort((a, b) => key(a) - key(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function list(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidInputError(field, 'must be a list');
  if (value.length > LIST_MAX) throw new InvalidInputError(field, `has more than ${LIST_MAX} entries`);
  return value;
}

function optString(value: unknown, field: string): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new InvalidInputError(field, 'must be a string');
  return value;
}

function protocolNumber(value: unknown, field: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 255) return value;
  if (typeof value === 'string') {
    if (/^[0-9]{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= 255) return Number(value);
    const n = PROTOCOL_NUMBERS[value.toUpperCase()];
    if (n !== undefined) return n;
  }
  throw new InvalidInputError(
    field,
    `${JSON.stringify(String(value).slice(0, 40))} is not a protocol (TCP, UDP, SCTP, ICMP, ICMPv6, UDPLite or 1–255)`,
  );
}

export function protocolName(n: number): string {
  const names: Record<number, string> = { 6: 'TCP', 17: 'UDP', 1: 'ICMP', 58: 'ICMPv6', 132: 'SCTP', 136: 'UDPLite' };
  return names[n] ?? `protocol ${n}`;
}

const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function port(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535) return value;
  if (typeof value === 'string' && /^[0-9]{1,5}$/.test(value) && Number(value) <= 65535) return Number(value);
  throw new InvalidInputError(field, `${JSON.stringify(String(value).slice(0, 40))} is not a port number`);
}

/** Calico's numorstring.Port: 80, "80", "80:90", or a named port "http". */
function calicoPort(value: unknown, field: string): PortMatch {
  if (typeof value === 'string') {
    const m = /^(?<min>[0-9]{1,5}):(?<max>[0-9]{1,5})$/.exec(value);
    if (m?.groups) {
      const min = port(m.groups.min, field);
      const max = port(m.groups.max, field);
      if (min > max) throw new InvalidInputError(field, `${value}: the range starts after it ends`);
      return { kind: 'range', min, max };
    }
    if (!/^[0-9]+$/.test(value)) {
      if (value.length > 15 || !PORT_NAME.test(value))
        throw new InvalidInputError(field, `${JSON.stringify(value.slice(0, 40))} is not a port name`);
      return { kind: 'named', name: value };
    }
  }
  const p = port(value, field);
  return { kind: 'range', min: p, max: p };
}

export function describePorts(ports: PortMatch[]): string {
  return ports
    .map((p) => (p.kind === 'named' ? `"${p.name}"` : p.min === p.max ? String(p.min) : `${p.min}-${p.max}`))
    .join(', ');
}

const emptyEntity = (): EntityMatch => ({
  nets: null,
  notNets: null,
  selector: null,
  notSelector: null,
  namespaceSelector: null,
  serviceAccounts: null,
  ports: null,
  notPorts: null,
  undecidable: [],
});

const ENTITY_FIELDS = new Set([
  'nets',
  'notNets',
  'selector',
  'notSelector',
  'namespaceSelector',
  'serviceAccounts',
  'ports',
  'notPorts',
  'services',
]);
const RULE_FIELDS = new Set([
  'action',
  'ipVersion',
  'protocol',
  'notProtocol',
  'icmp',
  'notICMP',
  'source',
  'destination',
  'http',
  'metadata',
]);

function calicoEntity(raw: unknown, field: string): EntityMatch {
  const e = emptyEntity();
  if (raw === undefined || raw === null) return e;
  if (!isObject(raw)) throw new InvalidInputError(field, 'must be an object');
  for (const k of Object.keys(raw))
    if (!ENTITY_FIELDS.has(k)) e.undecidable.push(`${field}.${k} (a field k8snet does not know)`);
  const nets = list(raw.nets, `${field}.nets`);
  if (nets.length) e.nets = nets.map((n, i) => parseCidr(n, `${field}.nets[${i}]`));
  const notNets = list(raw.notNets, `${field}.notNets`);
  if (notNets.length) e.notNets = notNets.map((n, i) => parseCidr(n, `${field}.notNets[${i}]`));
  const sel = optString(raw.selector, `${field}.selector`);
  if (sel !== null) e.selector = parseCalicoSelector(sel, `${field}.selector`);
  const notSel = optString(raw.notSelector, `${field}.notSelector`);
  if (notSel !== null) e.notSelector = parseCalicoSelector(notSel, `${field}.notSelector`);
  const nsSel = optString(raw.namespaceSelector, `${field}.namespaceSelector`);
  if (nsSel !== null) e.namespaceSelector = parseCalicoSelector(nsSel, `${field}.namespaceSelector`);
  if (raw.serviceAccounts !== undefined && raw.serviceAccounts !== null) {
    if (!isObject(raw.serviceAccounts)) throw new InvalidInputError(`${field}.serviceAccounts`, 'must be an object');
    const names = list(raw.serviceAccounts.names, `${field}.serviceAccounts.names`).map((n, i) => {
      if (typeof n !== 'string')
        throw new InvalidInputError(`${field}.serviceAccounts.names[${i}]`, 'must be a string');
      return n;
    });
    const saSel = optString(raw.serviceAccounts.selector, `${field}.serviceAccounts.selector`);
    e.serviceAccounts = {
      names: names.length ? names : null,
      selector: saSel === null ? null : parseCalicoSelector(saSel, `${field}.serviceAccounts.selector`),
    };
  }
  const ports = list(raw.ports, `${field}.ports`);
  if (ports.length) e.ports = ports.map((p, i) => calicoPort(p, `${field}.ports[${i}]`));
  const notPorts = list(raw.notPorts, `${field}.notPorts`);
  if (notPorts.length) e.notPorts = notPorts.map((p, i) => calicoPort(p, `${field}.notPorts[${i}]`));
  if (raw.services !== undefined && raw.services !== null)
    e.undecidable.push(`${field}.services (a Service match: k8snet does not resolve Service endpoints here)`);
  return e;
}

function describeEntity(e: EntityMatch, word: 'from' | 'to'): string[] {
  const parts: string[] = [];
  const who: string[] = [];
  if (e.selector) who.push(`endpoints matching ${e.selector.source || 'all()'}`);
  if (e.notSelector) who.push(`endpoints not matching ${e.notSelector.source}`);
  if (e.namespaceSelector) who.push(`in namespaces matching ${e.namespaceSelector.source || 'all()'}`);
  if (e.serviceAccounts) {
    if (e.serviceAccounts.names) who.push(`with service account ${e.serviceAccounts.names.join(' or ')}`);
    if (e.serviceAccounts.selector) who.push(`with a service account matching ${e.serviceAccounts.selector.source}`);
  }
  if (e.nets) who.push(e.nets.map((n) => n.text).join(', '));
  if (e.notNets) who.push(`not ${e.notNets.map((n) => n.text).join(', ')}`);
  if (who.length) parts.push(`${word} ${who.join(' ')}`);
  if (e.ports) parts.push(`${word === 'from' ? 'from port' : 'to port'} ${describePorts(e.ports)}`);
  if (e.notPorts) parts.push(`${word === 'from' ? 'from' : 'to'} any port but ${describePorts(e.notPorts)}`);
  return parts;
}

function calicoRule(raw: unknown, index: number, field: string): NormalizedRule {
  if (!isObject(raw)) throw new InvalidInputError(field, 'must be an object');
  const action = raw.action;
  if (action !== 'Allow' && action !== 'Deny' && action !== 'Log' && action !== 'Pass') {
    throw new InvalidInputError(
      `${field}.action`,
      `${JSON.stringify(String(action).slice(0, 40))} is not Allow, Deny, Log or Pass`,
    );
  }
  const undecidable: string[] = [];
  for (const k of Object.keys(raw))
    if (!RULE_FIELDS.has(k)) undecidable.push(`${field}.${k} (a field k8snet does not know)`);
  const protocol = protocolNumber(raw.protocol, `${field}.protocol`);
  const notProtocol = protocolNumber(raw.notProtocol, `${field}.notProtocol`);
  let ipVersion: 4 | 6 | null = null;
  if (raw.ipVersion !== undefined && raw.ipVersion !== null) {
    if (raw.ipVersion !== 4 && raw.ipVersion !== 6) throw new InvalidInputError(`${field}.ipVersion`, 'must be 4 or 6');
    ipVersion = raw.ipVersion;
  }
  const source = calicoEntity(raw.source, `${field}.source`);
  const destination = calicoEntity(raw.destination, `${field}.destination`);
  const hasPorts = source.ports || source.notPorts || destination.ports || destination.notPorts;
  // Calico's validator: ports need a protocol that has ports.
  if (hasPorts && (protocol === null || ![6, 17, 132, 136].includes(protocol))) {
    throw new InvalidInputError(`${field}.protocol`, 'must be TCP, UDP, SCTP or UDPLite when ports are given');
  }
  if ((raw.icmp || raw.notICMP) && protocol !== 1 && protocol !== 58)
    throw new InvalidInputError(`${field}.icmp`, 'needs protocol ICMP or ICMPv6');
  if (raw.icmp || raw.notICMP) undecidable.push(`${field}.icmp (ICMP type/code match)`);
  if (raw.http !== undefined && raw.http !== null)
    undecidable.push(`${field}.http (an HTTP match, enforced by the application layer)`);
  const words = [action.toLowerCase()];
  if (protocol !== null) words.push(protocolName(protocol));
  if (notProtocol !== null) words.push(`not ${protocolName(notProtocol)}`);
  if (ipVersion !== null) words.push(`IPv${ipVersion}`);
  words.push(...describeEntity(source, 'from'), ...describeEntity(destination, 'to'));
  if (words.length === 1) words.push('everything');
  return {
    index,
    action,
    protocol,
    notProtocol,
    ipVersion,
    source,
    destination,
    undecidable,
    broken: null,
    text: words.join(' '),
  };
}

function brokenRule(index: number, err: unknown): NormalizedRule {
  const msg = describeError(err);
  return {
    index,
    action: 'Deny',
    protocol: null,
    notProtocol: null,
    ipVersion: null,
    source: emptyEntity(),
    destination: emptyEntity(),
    undecidable: [],
    broken: msg,
    text: `(could not read this rule: ${msg})`,
  };
}

/** Orchestrator label Calico puts on every pod's workload endpoint, and ANDs into converted pod selectors. */
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';

interface K8sPeer {
  entity: Pick<EntityMatch, 'nets' | 'notNets' | 'selector' | 'namespaceSelector'>;
  text: string;
}

function k8sPeer(raw: unknown, field: string, policyNamespace: string): K8sPeer {
  if (!isObject(raw)) throw new InvalidInputError(field, 'must be an object');
  for (const k of Object.keys(raw)) {
    if (k !== 'podSelector' && k !== 'namespaceSelector' && k !== 'ipBlock')
      throw new InvalidInputError(
        `${field}.${k}`,
        'is not a NetworkPolicyPeer field (it could change what the peer selects)',
      );
  }
  const hasPod = raw.podSelector !== undefined && raw.podSelector !== null;
  const hasNs = raw.namespaceSelector !== undefined && raw.namespaceSelector !== null;
  if (raw.ipBlock !== undefined && raw.ipBlock !== null) {
    if (hasPod || hasNs)
      throw new InvalidInputError(field, 'ipBlock cannot be combined with podSelector or namespaceSelector');
    if (!isObject(raw.ipBlock)) throw new InvalidInputError(`${field}.ipBlock`, 'must be an object');
    const cidr = parseCidr(raw.ipBlock.cidr, `${field}.ipBlock.cidr`);
    const except = list(raw.ipBlock.except, `${field}.ipBlock.except`).map((c, i) =>
      parseCidr(c, `${field}.ipBlock.except[${i}]`),
    );
    const text = except.length ? `${cidr.text} except ${except.map((c) => c.text).join(', ')}` : cidr.text;
    return {
      entity: { nets: [cidr], notNets: except.length ? except : null, selector: null, namespaceSelector: null },
      text,
    };
  }
  if (!hasPod && !hasNs) throw new InvalidInputError(field, 'a peer needs podSelector, namespaceSelector or ipBlock');
  // Calico: every peer selector selects pods only; an absent podSelector with a namespaceSelector = every pod there.
  const pod = hasPod
    ? parseLabelSelector(raw.podSelector, `${field}.podSelector`)
    : { matchLabels: {}, matchExpressions: [] };
  const selector = labelSelectorToCalico(pod, [{ key: ORCHESTRATOR_LABEL, value: 'k8s' }]);
  const podWords = isEmptyLabelSelector(pod) ? 'all pods' : `pods ${describeLabelSelector(pod)}`;
  if (!hasNs)
    return {
      entity: { nets: null, notNets: null, selector, namespaceSelector: null },
      text: `${podWords} in namespace ${policyNamespace}`,
    };
  const ns = parseLabelSelector(raw.namespaceSelector, `${field}.namespaceSelector`);
  const nsWords = isEmptyLabelSelector(ns) ? 'in all namespaces' : `in namespaces ${describeLabelSelector(ns)}`;
  return {
    entity: { nets: null, notNets: null, selector, namespaceSelector: labelSelectorToCalico(ns) },
    text: `${podWords} ${nsWords}`,
  };
}

interface K8sPort {
  protocol: number;
  ports: PortMatch[] | null;
  text: string;
}

function k8sPort(raw: unknown, field: string): K8sPort {
  if (!isObject(raw)) throw new InvalidInputError(field, 'must be an object');
  const protocolText = raw.protocol ?? 'TCP';
  if (protocolText !== 'TCP' && protocolText !== 'UDP' && protocolText !== 'SCTP')
    throw new InvalidInputError(
      `${field}.protocol`,
      `${JSON.stringify(String(protocolText).slice(0, 20))} is not TCP, UDP or SCTP`,
    );
  const protocol = PROTOCOL_NUMBERS[protocolText]!;
  if (raw.port === undefined || raw.port === null) {
    if (raw.endPort !== undefined && raw.endPort !== null)
      throw new InvalidInputError(`${field}.endPort`, 'needs port');
    return { protocol, ports: null, text: protocolText };
  }
  if (typeof raw.port === 'string' && !/^[0-9]+$/.test(raw.port)) {
    if (raw.endPort !== undefined && raw.endPort !== null)
      throw new InvalidInputError(`${field}.endPort`, 'cannot be used with a named port');
    const named = calicoPort(raw.port, `${field}.port`);
    return { protocol, ports: [named], text: `${protocolText} port "${raw.port}"` };
  }
  const min = port(raw.port, `${field}.port`);
  if (min === 0) throw new InvalidInputError(`${field}.port`, 'must be 1–65535');
  if (raw.endPort !== undefined && raw.endPort !== null) {
    const max = port(raw.endPort, `${field}.endPort`);
    if (max < min) throw new InvalidInputError(`${field}.endPort`, `${max} is below port ${min}`);
    return { protocol, ports: [{ kind: 'range', min, max }], text: `${protocolText} ports ${min}-${max}` };
  }
  return { protocol, ports: [{ kind: 'range', min, max: min }], text: `${protocolText} port ${min}` };
}

function k8sRules(raw: unknown[], direction: Direction, policyNamespace: string, field: string): NormalizedRule[] {
  if (raw.length > RULES_MAX) throw new InvalidInputError(field, `has more than ${RULES_MAX} rules`);
  const out: NormalizedRule[] = [];
  raw.forEach((r, index) => {
    const f = `${field}[${index}]`;
    try {
      if (r === null) r = {};
      if (!isObject(r)) throw new InvalidInputError(f, 'must be an object');
      const peerKey = direction === 'ingress' ? 'from' : 'to';
      for (const k of Object.keys(r))
        if (k !== peerKey && k !== 'ports')
          throw new InvalidInputError(
            `${f}.${k}`,
            `is not a ${direction} rule field (it could change what the rule allows)`,
          );
      const peers = list(r[peerKey], `${f}.${peerKey}`).map((p, i) =>
        k8sPeer(p, `${f}.${peerKey}[${i}]`, policyNamespace),
      );
      const ports = list(r.ports, `${f}.ports`).map((p, i) => k8sPort(p, `${f}.ports[${i}]`));
      // Empty from/to = every peer; empty ports = every port and protocol (one rule with no protocol).
      const peerList: (K8sPeer | null)[] = peers.length ? peers : [null];
      const portList: (K8sPort | null)[] = ports.length ? ports : [null];
      for (const port of portList) {
        for (const peer of peerList) {
          const peerEntity = { ...emptyEntity(), ...(peer?.entity ?? {}) };
          const portEntity = { ...emptyEntity(), ports: port?.ports ?? null };
          const words = ['allow'];
          words.push(port ? port.text : 'all traffic');
          words.push(
            direction === 'ingress' ? `from ${peer ? peer.text : 'anywhere'}` : `to ${peer ? peer.text : 'anywhere'}`,
          );
          out.push({
            index,
            action: 'Allow',
            protocol: port?.protocol ?? null,
            notProtocol: null,
            ipVersion: null,
            // Calico puts the peer on the source for ingress and on the destination for egress; ports always on the destination.
            source: direction === 'ingress' ? peerEntity : emptyEntity(),
            destination: direction === 'ingress' ? portEntity : { ...peerEntity, ports: port?.ports ?? null },
            undecidable: [],
            broken: null,
            text: words.join(' '),
          });
        }
      }
    } catch (err) {
      out.push(brokenRule(index, err));
    }
  });
  return out;
}

function metadataOf(obj: Record<string, unknown>): { name: string; namespace: string | null } {
  const md = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof md.name === 'string' && md.name.length > 0 && md.name.length <= 253 ? md.name : '(unnamed)';
  const namespace =
    typeof md.namespace === 'string' && md.namespace.length > 0 && md.namespace.length <= 63 ? md.namespace : null;
  return { name, namespace };
}

const objectLabel = (kind: string, namespace: string | null, name: string) =>
  `${kind} ${namespace ? `${namespace}/` : ''}${name}`;

function normalizeK8s(obj: Record<string, unknown>, problems: PolicyProblem[]): NormalizedPolicy {
  const { name, namespace } = metadataOf(obj);
  const label = objectLabel('NetworkPolicy', namespace, name);
  const policy: NormalizedPolicy = {
    kind: 'NetworkPolicy',
    namespace: namespace ?? '(none)',
    name,
    calicoName: `knp.default.${name}`,
    tier: 'default',
    order: 1000,
    selector: null,
    namespaceSelector: null,
    serviceAccountSelector: null,
    types: { ingress: true, egress: false },
    ingress: [],
    egress: [],
    broken: null,
    notes: [],
    selectorText: '',
  };
  const problem = (message: string, severity: PolicyProblem['severity'] = 'error') =>
    problems.push({ object: label, severity, message });
  if (namespace === null) {
    policy.broken = 'it has no metadata.namespace';
    problem(policy.broken);
  }
  const spec = obj.spec;
  if (!isObject(spec)) {
    policy.broken = 'spec is missing or not an object';
    problem(policy.broken);
    return policy;
  }
  for (const k of Object.keys(spec))
    if (!['podSelector', 'policyTypes', 'ingress', 'egress'].includes(k))
      problem(`spec.${k} is not a NetworkPolicy field k8snet knows; ignored`, 'warning');
  try {
    const sel = parseLabelSelector(spec.podSelector ?? {}, 'spec.podSelector');
    policy.selector = labelSelectorToCalico(sel, [{ key: ORCHESTRATOR_LABEL, value: 'k8s' }]);
    policy.selectorText = isEmptyLabelSelector(sel)
      ? `every pod in ${namespace}`
      : `pods ${describeLabelSelector(sel)} in ${namespace}`;
  } catch (err) {
    policy.broken ??= describeError(err);
    problem(describeError(err));
  }
  try {
    const types = list(spec.policyTypes, 'spec.policyTypes');
    for (const t of types)
      if (t !== 'Ingress' && t !== 'Egress')
        throw new InvalidInputError(
          'spec.policyTypes',
          `${JSON.stringify(String(t).slice(0, 20))} is not Ingress or Egress`,
        );
    // As Calico converts it: listed types, else Ingress only (policyTypes absent = a pre-1.8 policy). The API
    // server itself defaults policyTypes to Ingress plus Egress when egress rules exist, so stored objects have it.
    if (types.length) policy.types = { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
    else policy.types = { ingress: true, egress: spec.egress !== undefined && spec.egress !== null };
  } catch (err) {
    policy.broken ??= describeError(err);
    problem(describeError(err));
  }
  for (const direction of ['ingress', 'egress'] as const) {
    try {
      policy[direction] = k8sRules(
        list(spec[direction], `spec.${direction}`),
        direction,
        namespace ?? '(none)',
        `spec.${direction}`,
      );
    } catch (err) {
      policy[direction] = [brokenRule(0, err)];
    }
    for (const r of policy[direction]) if (r.broken) problem(`spec.${direction}[${r.index}]: ${r.broken}`);
  }
  return policy;
}

const CALICO_SPEC_FIELDS = new Set([
  'order',
  'tier',
  'selector',
  'namespaceSelector',
  'serviceAccountSelector',
  'types',
  'ingress',
  'egress',
  'doNotTrack',
  'preDNAT',
  'applyOnForward',
  'performanceHints',
]);

function normalizeCalico(
  obj: Record<string, unknown>,
  global: boolean,
  problems: PolicyProblem[],
  notEvaluated: NotEvaluatedPolicy[],
  apiVersion: string,
  tiers: ReadonlyMap<string, TierInfo>,
): NormalizedPolicy | null {
  const md = metadataOf(obj);
  const kindWord = global ? 'GlobalNetworkPolicy' : 'NetworkPolicy';
  const spec = isObject(obj.spec) ? obj.spec : null;
  const tier = spec && typeof spec.tier === 'string' && spec.tier !== '' ? spec.tier : 'default';
  let name = md.name;
  const notes: string[] = [];
  // The crd.projectcalico.org/v1 objects (and v3 objects of Calico before 3.28) name policies "<tier>.<name>".
  if (name.startsWith(`${tier}.`)) {
    name = name.slice(tier.length + 1);
    notes.push(
      `stored as ${md.name}${apiVersion.startsWith('crd.') ? ' in the crd.projectcalico.org CRD' : ''}; shown without the "${tier}." tier prefix`,
    );
  }
  const label = objectLabel(
    global ? 'GlobalNetworkPolicy' : 'Calico NetworkPolicy',
    global ? null : md.namespace,
    name,
  );
  const problem = (message: string, severity: PolicyProblem['severity'] = 'error') =>
    problems.push({ object: label, severity, message });
  if (tier !== 'default' && !tiers.has(tier)) {
    notEvaluated.push({
      apiVersion,
      kind: kindWord,
      namespace: global ? null : md.namespace,
      name,
      reason: `it is in tier "${tier}", whose Tier object was not read, so where it stands against the default tier is not known and its effect is not included`,
    });
    return null;
  }
  if (spec && (spec.preDNAT === true || spec.doNotTrack === true)) {
    notEvaluated.push({
      apiVersion,
      kind: kindWord,
      namespace: null,
      name,
      reason: `it is a ${spec.preDNAT === true ? 'preDNAT' : 'doNotTrack'} policy, which Calico applies only to host endpoints, never to pods`,
    });
    return null;
  }
  const policy: NormalizedPolicy = {
    kind: global ? 'GlobalNetworkPolicy' : 'CalicoNetworkPolicy',
    namespace: global ? null : (md.namespace ?? '(none)'),
    name,
    calicoName: name,
    tier,
    order: null,
    selector: null,
    namespaceSelector: null,
    serviceAccountSelector: null,
    types: { ingress: true, egress: false },
    ingress: [],
    egress: [],
    broken: null,
    notes,
    selectorText: '',
  };
  const breakWith = (err: unknown) => {
    policy.broken ??= describeError(err);
    problem(describeError(err));
  };
  if (!global && md.namespace === null) breakWith(new InvalidInputError('metadata.namespace', 'is missing'));
  if (!spec) {
    breakWith(new InvalidInputError('spec', 'is missing or not an object'));
    return policy;
  }
  for (const k of Object.keys(spec))
    if (!CALICO_SPEC_FIELDS.has(k)) problem(`spec.${k} is not a Calico policy field k8snet knows; ignored`, 'warning');
  try {
    if (spec.order !== undefined && spec.order !== null) {
      if (typeof spec.order !== 'number' || !Number.isFinite(spec.order))
        throw new InvalidInputError('spec.order', 'must be a number');
      policy.order = spec.order;
    }
    policy.selector = parseCalicoSelector(spec.selector ?? '', 'spec.selector');
    if (global) {
      const ns = optString(spec.namespaceSelector, 'spec.namespaceSelector');
      policy.namespaceSelector = ns === null ? null : parseCalicoSelector(ns, 'spec.namespaceSelector');
    }
    const sa = optString(spec.serviceAccountSelector, 'spec.serviceAccountSelector');
    policy.serviceAccountSelector = sa === null ? null : parseCalicoSelector(sa, 'spec.serviceAccountSelector');
    const words = [`endpoints matching ${policy.selector.source || 'all()'}`];
    if (!global) words.push(`in ${md.namespace}`);
    if (policy.namespaceSelector) words.push(`in namespaces matching ${policy.namespaceSelector.source}`);
    if (policy.serviceAccountSelector)
      words.push(`with a service account matching ${policy.serviceAccountSelector.source}`);
    policy.selectorText = words.join(' ');
  } catch (err) {
    breakWith(err);
  }
  const rules = { ingress: [] as unknown[], egress: [] as unknown[] };
  for (const direction of ['ingress', 'egress'] as const) {
    try {
      rules[direction] = list(spec[direction], `spec.${direction}`);
      if (rules[direction].length > RULES_MAX)
        throw new InvalidInputError(`spec.${direction}`, `has more than ${RULES_MAX} rules`);
      policy[direction] = rules[direction].map((r, i) => {
        try {
          return calicoRule(r, i, `spec.${direction}[${i}]`);
        } catch (err) {
          return brokenRule(i, err);
        }
      });
    } catch (err) {
      policy[direction] = [brokenRule(0, err)];
    }
    for (const r of policy[direction]) if (r.broken) problem(r.broken);
    for (const r of policy[direction])
      for (const u of r.undecidable)
        problem(`spec.${direction}[${r.index}]: ${u} — verdicts that reach this rule are "unknown"`, 'warning');
  }
  try {
    const types = list(spec.types, 'spec.types');
    for (const t of types)
      if (t !== 'Ingress' && t !== 'Egress')
        throw new InvalidInputError('spec.types', `${JSON.stringify(String(t).slice(0, 20))} is not Ingress or Egress`);
    if (types.length) policy.types = { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
    // Calico's defaulting (api/pkg/apis/projectcalico/v3/networkpolicy.go, Types): Ingress unless there are
    // egress rules and no ingress rules; both when both are present.
    else
      policy.types = {
        ingress: rules.ingress.length > 0 || rules.egress.length === 0,
        egress: rules.egress.length > 0,
      };
  } catch (err) {
    breakWith(err);
  }
  return policy;
}

/** Turns raw API objects into policies to evaluate, policies that are not evaluated (with why), and problems. */
/**
 * Calico Tier objects among the raw items (projectcalico.org/v3 or crd.projectcalico.org/v1 `Tier`): name, order,
 * defaultAction. The default tier is always there; a Tier object named `default` sets its order.
 */
function tiersOf(raw: readonly unknown[], problems: PolicyProblem[]): Map<string, TierInfo> {
  const tiers = new Map<string, TierInfo>([
    ['default', { name: 'default', order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' }],
  ]);
  for (const obj of raw) {
    if (
      !isObject(obj) ||
      obj.kind !== 'Tier' ||
      (obj.apiVersion !== 'projectcalico.org/v3' && obj.apiVersion !== 'crd.projectcalico.org/v1')
    )
      continue;
    const md = metadataOf(obj);
    const spec = isObject(obj.spec) ? obj.spec : {};
    const order =
      spec.order === undefined || spec.order === null
        ? null
        : typeof spec.order === 'number' && Number.isFinite(spec.order)
          ? spec.order
          : NaN;
    if (
      !md.name ||
      Number.isNaN(order) ||
      (spec.defaultAction !== undefined && spec.defaultAction !== 'Deny' && spec.defaultAction !== 'Pass')
    ) {
      problems.push({
        object: objectLabel('Tier', null, md.name || '(no name)'),
        severity: 'error',
        message:
          'has no name, an order that is not a number, or a defaultAction other than Deny or Pass; its policies are not evaluated',
      });
      continue;
    }
    tiers.set(md.name, {
      name: md.name,
      order: order ?? (md.name === 'default' ? DEFAULT_TIER_ORDER : null),
      defaultAction: spec.defaultAction === 'Pass' ? 'Pass' : 'Deny',
    });
  }
  return tiers;
}

export function normalizePolicies(raw: readonly unknown[]): NormalizedPolicies {
  const policies: NormalizedPolicy[] = [];
  const notEvaluated: NotEvaluatedPolicy[] = [];
  const problems: PolicyProblem[] = [];
  if (!Array.isArray(raw)) {
    problems.push({ object: '(input)', severity: 'error', message: 'policies must be a list of API objects' });
    return {
      policies,
      notEvaluated,
      problems,
      tiers: [{ name: 'default', order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' }],
    };
  }
  const tiers = tiersOf(raw, problems);
  raw.forEach((obj, i) => {
    if (!isObject(obj)) {
      problems.push({ object: `item ${i}`, severity: 'error', message: 'is not an API object' });
      return;
    }
    const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
    const kind = typeof obj.kind === 'string' ? obj.kind : '';
    const group = apiVersion.split('/')[0];
    const md = metadataOf(obj);
    if (apiVersion === 'networking.k8s.io/v1' && kind === 'NetworkPolicy') {
      policies.push(normalizeK8s(obj, problems));
    } else if (
      (apiVersion === 'projectcalico.org/v3' || apiVersion === 'crd.projectcalico.org/v1') &&
      (kind === 'NetworkPolicy' || kind === 'GlobalNetworkPolicy')
    ) {
      const p = normalizeCalico(obj, kind === 'GlobalNetworkPolicy', problems, notEvaluated, apiVersion, tiers);
      if (p) policies.push(p);
    } else if (
      (apiVersion === 'projectcalico.org/v3' || apiVersion === 'crd.projectcalico.org/v1') &&
      kind === 'Tier'
    ) {
      // Read by tiersOf() before the policies.
    } else if (
      group === 'policy.networking.k8s.io' &&
      (kind === 'AdminNetworkPolicy' || kind === 'BaselineAdminNetworkPolicy' || kind === 'ClusterNetworkPolicy')
    ) {
      const when =
        kind === 'BaselineAdminNetworkPolicy'
          ? "after every NetworkPolicy (Calico's kube-baseline tier), for traffic no NetworkPolicy decided"
          : "before every NetworkPolicy (Calico's kube-admin tier), so it can allow or deny regardless of them";
      notEvaluated.push({
        apiVersion,
        kind,
        namespace: null,
        name: md.name,
        reason: `a ${kind} applies ${when}; k8snet does not evaluate it yet`,
      });
    } else if ((group === 'projectcalico.org' || group === 'crd.projectcalico.org') && kind.startsWith('Staged')) {
      notEvaluated.push({
        apiVersion,
        kind,
        namespace: md.namespace,
        name: md.name,
        reason: 'staged policies are previews: Calico does not enforce them',
      });
    } else {
      problems.push({
        object: objectLabel(kind || '(no kind)', md.namespace, md.name),
        severity: 'warning',
        message: `${apiVersion || '(no apiVersion)'} ${kind || '(no kind)'} is not a policy k8snet reads; ignored`,
      });
    }
  });
  const used = new Set(policies.map((p) => p.tier));
  return {
    policies,
    notEvaluated,
    problems,
    tiers: sortTiers([...tiers.values()].filter((t) => t.name === 'default' || used.has(t.name))),
  };
}
