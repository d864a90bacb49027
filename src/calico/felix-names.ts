/**
 * Calico Felix's iptables names, computed the way Felix computes them, so that a chain seen on a node can be tied to
 * the API object it came from and back. Pure. Sources (projectcalico/calico, read at v3.26.0 … v3.32.0 and master):
 *   felix/rules/rule_defs.go      chain prefixes (ChainNamePrefix "cali-", PolicyInboundPfx "cali-pi-", …)
 *   felix/rules/policy.go         PolicyChainName / ProfileChainName and the policy chain's first-rule comment
 *   felix/rules/endpoints.go      EndpointChainName, the workload chain's comments, PolicyGroup.ChainName
 *   felix/rules/dispatch.go       dispatch chains and their `-<char>` children
 *   libcalico-go/lib/hash/unique_id.go (felix/hashutils/id.go before 3.31) GetLengthLimitedID
 *   felix/types/policy_id.go      PolicyID.ID() and the short kinds (3.32+)
 *   felix/generictables/rules.go  RuleHashes (the `cali:<hash>` rule ids), felix/iptables/renderer.go
 *   felix/dataplane/driver.go     mark-bit allocation; felix/config/config_params.go IptablesMarkMask default
 *
 * `caliInterfaceName` (the workload interface name) still lives in src/lab/plan.ts; it is due to move here.
 */
import { createHash } from 'node:crypto';

export const FELIX_CHAIN_PREFIX = 'cali-';
/** felix/iptables/table.go MaxChainNameLength: iptables' own limit is 28 usable characters. */
export const IPTABLES_MAX_CHAIN_NAME_LENGTH = 28;
/** felix/nftables/table.go MaxChainNameLength = knftables.NameLengthMax (sigs.k8s.io/knftables types.go: 256). */
export const NFTABLES_MAX_CHAIN_NAME_LENGTH = 256;
/** felix/generictables/rules.go HashLength: characters of a `cali:<hash>` rule id. */
export const FELIX_RULE_HASH_LENGTH = 16;
/** felix/iptables/renderer.go maxIptablesCommentLength: Felix cuts longer comments. */
export const FELIX_MAX_COMMENT_LENGTH = 256;

export const FELIX_CHAINS = {
  filterInput: 'cali-INPUT',
  filterForward: 'cali-FORWARD',
  filterOutput: 'cali-OUTPUT',
  toWorkloadDispatch: 'cali-to-wl-dispatch',
  fromWorkloadDispatch: 'cali-from-wl-dispatch',
  workloadToHost: 'cali-wl-to-host',
  toHostEndpoint: 'cali-to-host-endpoint',
  fromHostEndpoint: 'cali-from-host-endpoint',
  toHepForward: 'cali-to-hep-forward',
  fromHepForward: 'cali-from-hep-forward',
  cidrBlock: 'cali-cidr-block',
  failsafeIn: 'cali-failsafe-in',
  failsafeOut: 'cali-failsafe-out',
} as const;

/** rule_defs.go: WorkloadToEndpointPfx, WorkloadFromEndpointPfx, Policy*Pfx, Profile*Pfx, PolicyGroup*Prefix. */
export const FELIX_PREFIXES = {
  toWorkload: 'cali-tw-',
  fromWorkload: 'cali-fw-',
  policyInbound: 'cali-pi-',
  policyOutbound: 'cali-po-',
  profileInbound: 'cali-pri-',
  profileOutbound: 'cali-pro-',
  policyGroupInbound: 'cali-gi-',
  policyGroupOutbound: 'cali-go-',
  toHostEndpoint: 'cali-th-',
  fromHostEndpoint: 'cali-fh-',
} as const;

/** libcalico-go/lib/hash/unique_id.go shortenedPrefix: marks a hashed (shortened) suffix. */
const SHORTENED_PREFIX = '_';

/**
 * libcalico-go GetLengthLimitedID: `prefix + suffix` if it fits in maxLength (and, at exactly maxLength, does not
 * start with "_"), else `prefix + "_" + base64url(sha256(suffix))` cut to maxLength. An empty suffix becomes "_"
 * (added with the move to libcalico-go; older Felix never passes one). Lengths are in bytes, as Go's len().
 */
export function getLengthLimitedId(fixedPrefix: string, suffix: string, maxLength: number): string {
  const s = suffix.length === 0 ? SHORTENED_PREFIX : suffix;
  const prefixLen = Buffer.byteLength(fixedPrefix);
  const total = prefixLen + Buffer.byteLength(s);
  if (total > maxLength || (total === maxLength && s.startsWith(SHORTENED_PREFIX))) {
    const hash = createHash('sha256').update(s).digest('base64url');
    const left = maxLength - 1 - prefixLen;
    if (left <= 0) throw new RangeError(`maxLength ${maxLength} is too small for prefix ${fixedPrefix}`);
    return fixedPrefix + SHORTENED_PREFIX + hash.slice(0, left);
  }
  return fixedPrefix + s;
}

export type PolicyDirection = 'ingress' | 'egress';

/** The API kinds Felix distinguishes (v3 kinds, libcalico-go model kinds for the Kubernetes ones). */
export type PolicyKind =
  | 'NetworkPolicy'
  | 'GlobalNetworkPolicy'
  | 'StagedNetworkPolicy'
  | 'StagedGlobalNetworkPolicy'
  | 'StagedKubernetesNetworkPolicy'
  | 'KubernetesNetworkPolicy'
  | 'KubernetesClusterNetworkPolicy';

/** felix/types/policy_id.go ShortKind* (3.32+ chain names). */
export const POLICY_SHORT_KIND: Record<PolicyKind, string> = {
  NetworkPolicy: 'np',
  GlobalNetworkPolicy: 'gnp',
  StagedNetworkPolicy: 'snp',
  StagedGlobalNetworkPolicy: 'sgnp',
  StagedKubernetesNetworkPolicy: 'sknp',
  KubernetesNetworkPolicy: 'knp',
  KubernetesClusterNetworkPolicy: 'kcnp',
};

/**
 * How a Felix release spells a policy's chain suffix and first-rule comment:
 *  - `name` (≤ 3.28): the datastore name, `ns/name` for namespaced policies; comment "Policy ns/name ingress".
 *  - `tier-name` (3.29 – 3.31): `tier/` + that; same comment.
 *  - `kind-id` (3.32+): PolicyID.ID() = `shortKind/ns/name` (or `shortKind/name`); comment "Kind ns/name ingress".
 */
export type FelixNamingEra = 'name' | 'tier-name' | 'kind-id';
export const FELIX_NAMING_ERAS: readonly FelixNamingEra[] = ['name', 'tier-name', 'kind-id'];

export interface PolicyRef {
  kind: PolicyKind;
  /** Empty or absent for global kinds. */
  namespace?: string;
  /** The name as the API shows it (`allow-dns`, `security.allow-dns` for a tiered Calico policy). */
  name: string;
  /** Calico tier; `default` when absent. Kubernetes NetworkPolicy is always in `default`. */
  tier?: string;
}

/** libcalico-go names.K8sNetworkPolicyNamePrefix. */
const KNP_PREFIX = 'knp.default.';

/**
 * The name Felix saw before 3.32 (the datastore name): Kubernetes NetworkPolicy `knp.default.<name>`; a Calico
 * policy keeps a `<tier>.` prefix and gets `default.` when it has none (clientv3 convertPolicyNameForStorage /
 * names.TieredPolicyName). Staged Kubernetes policies (`sknp`) are not handled (Felix programs no staged chains).
 */
export function felixDatastoreName(ref: PolicyRef): string {
  if (ref.kind === 'KubernetesNetworkPolicy') return ref.name.startsWith(KNP_PREFIX) ? ref.name : KNP_PREFIX + ref.name;
  const tier = ref.tier ?? 'default';
  return ref.name.startsWith(`${tier}.`) ? ref.name : `${tier}.${ref.name}`;
}

export function tierOf(ref: PolicyRef): string {
  return ref.kind === 'KubernetesNetworkPolicy' ? 'default' : (ref.tier ?? 'default');
}

/** The suffix Felix hands to GetLengthLimitedID for this policy, in one era. */
export function policyChainSuffix(ref: PolicyRef, era: FelixNamingEra): string {
  if (era === 'kind-id') {
    const short = POLICY_SHORT_KIND[ref.kind];
    return ref.namespace ? `${short}/${ref.namespace}/${ref.name}` : `${short}/${ref.name}`;
  }
  const stored = felixDatastoreName(ref);
  const name = ref.namespace ? `${ref.namespace}/${stored}` : stored;
  return era === 'tier-name' ? `${tierOf(ref)}/${name}` : name;
}

export interface NameOptions {
  /** nftables mode: 256-character chain names, so names are hashed far less often. */
  nft?: boolean;
}

const maxLen = (o: NameOptions = {}) => (o.nft ? NFTABLES_MAX_CHAIN_NAME_LENGTH : IPTABLES_MAX_CHAIN_NAME_LENGTH);

/** policy.go PolicyChainName: `cali-pi-` (ingress) / `cali-po-` (egress) + the length-limited suffix. */
export function policyChainName(
  direction: PolicyDirection,
  ref: PolicyRef,
  era: FelixNamingEra,
  o?: NameOptions,
): string {
  const prefix = direction === 'ingress' ? FELIX_PREFIXES.policyInbound : FELIX_PREFIXES.policyOutbound;
  return getLengthLimitedId(prefix, policyChainSuffix(ref, era), maxLen(o));
}

/** policy.go ProfileChainName: `cali-pri-` / `cali-pro-` + profile name (`kns.<namespace>`, `ksa.<ns>.<sa>`). */
export function profileChainName(direction: PolicyDirection, profile: string, o?: NameOptions): string {
  const prefix = direction === 'ingress' ? FELIX_PREFIXES.profileInbound : FELIX_PREFIXES.profileOutbound;
  return getLengthLimitedId(prefix, profile, maxLen(o));
}

/** The profile Calico's Kubernetes datastore makes for a namespace (libcalico-go conversion: "kns." + name). */
export const namespaceProfile = (namespace: string): string => `kns.${namespace}`;
/** … and for a service account ("ksa." + namespace + "." + name). */
export const serviceAccountProfile = (namespace: string, serviceAccount: string): string =>
  `ksa.${namespace}.${serviceAccount}`;

/**
 * endpoints.go EndpointChainName: `cali-tw-<iface>` (to the workload: the pod's ingress) or `cali-fw-<iface>`
 * (from the workload: its egress).
 */
export function workloadChainName(direction: PolicyDirection, iface: string, o?: NameOptions): string {
  return getLengthLimitedId(
    direction === 'ingress' ? FELIX_PREFIXES.toWorkload : FELIX_PREFIXES.fromWorkload,
    iface,
    maxLen(o),
  );
}

/** The dispatch chain that sends a direction's packets to the workload chains. */
export const dispatchChainName = (direction: PolicyDirection): string =>
  direction === 'ingress' ? FELIX_CHAINS.toWorkloadDispatch : FELIX_CHAINS.fromWorkloadDispatch;

/**
 * dispatch.go buildSingleDispatchChainTree: when several interfaces share a prefix, the root dispatch chain jumps
 * (`-g`) on `<prefix>+` to a child chain named `<root>-<next char>` (with an infix for host endpoints). Matches
 * `cali-to-wl-dispatch-a`, `cali-from-wl-dispatch-5`, and older multi-character children.
 */
export function isSubDispatchChain(chain: string, root: string): boolean {
  return chain.startsWith(`${root}-`) && chain.length > root.length + 1;
}

/** Policy-group chain (3.28+): `cali-gi-` / `cali-go-` + the first MaxPolicyGroupUIDLength chars of a SHA3-224. */
export function isPolicyGroupChain(chain: string): PolicyDirection | null {
  if (chain.startsWith(FELIX_PREFIXES.policyGroupInbound)) return 'ingress';
  if (chain.startsWith(FELIX_PREFIXES.policyGroupOutbound)) return 'egress';
  return null;
}

/** The first-rule comment of a policy chain in one era (policy.go PolicyToIptablesChains). */
export function policyChainComment(direction: PolicyDirection, ref: PolicyRef, era: FelixNamingEra): string {
  if (era === 'kind-id')
    return ref.namespace
      ? `${ref.kind} ${ref.namespace}/${ref.name} ${direction}`
      : `${ref.kind} ${ref.name} ${direction}`;
  const stored = felixDatastoreName(ref);
  return `Policy ${ref.namespace ? `${ref.namespace}/${stored}` : stored} ${direction}`;
}

export interface DecodedPolicyComment {
  direction: PolicyDirection;
  /** null for the old "Policy …" form, which does not say. */
  kind: PolicyKind | null;
  namespace: string | null;
  /** As the API shows it: `knp.default.` dropped from Kubernetes policies, `default.` from default-tier ones. */
  name: string;
  /** The name as Felix wrote it. */
  rawName: string;
  tier: string | null;
}

const KINDS = new Set<string>(Object.keys(POLICY_SHORT_KIND));
const POLICY_COMMENT = /^(?<kind>Policy|[A-Z][A-Za-z]+) (?:(?<ns>[^/ ]+)\/)?(?<name>[^/ ]+) (?<dir>ingress|egress)$/;

/**
 * Reads a policy chain's comment in either form: "Policy test/knp.default.deny-all ingress" (≤ 3.31) or
 * "KubernetesNetworkPolicy test/deny-all ingress" (3.32+). Felix replaces shell-unsafe characters with "_" in
 * comments (renderer.go escapeComment), which names of Kubernetes objects do not contain.
 */
export function decodePolicyComment(comment: string): DecodedPolicyComment | null {
  const m = POLICY_COMMENT.exec(comment);
  if (!m?.groups) return null;
  const kindText = m.groups.kind!;
  if (kindText !== 'Policy' && !KINDS.has(kindText)) return null;
  const direction = m.groups.dir as PolicyDirection;
  const namespace = m.groups.ns ?? null;
  const rawName = m.groups.name!;
  if (kindText !== 'Policy')
    return { direction, kind: kindText as PolicyKind, namespace, name: rawName, rawName, tier: null };
  if (rawName.startsWith(KNP_PREFIX))
    return {
      direction,
      kind: 'KubernetesNetworkPolicy',
      namespace,
      name: rawName.slice(KNP_PREFIX.length),
      rawName,
      tier: 'default',
    };
  const dot = rawName.indexOf('.');
  const tier = dot > 0 ? rawName.slice(0, dot) : null;
  const name = tier === 'default' ? rawName.slice(dot + 1) : rawName;
  return { direction, kind: namespace ? 'NetworkPolicy' : 'GlobalNetworkPolicy', namespace, name, rawName, tier };
}

/** "Profile kns.default ingress" (policy.go ProfileToIptablesChains). */
export function decodeProfileComment(comment: string): { direction: PolicyDirection; profile: string } | null {
  const m = /^Profile (?<p>\S+) (?<dir>ingress|egress)$/.exec(comment);
  return m?.groups ? { direction: m.groups.dir as PolicyDirection, profile: m.groups.p! } : null;
}

/** Comments Felix puts on the workload chain (endpoints.go). Deny action is DROP unless configured REJECT. */
export const FELIX_COMMENTS = {
  startOfPolicies: 'Start of policies',
  startOfTier: (tier: string) => `Start of tier ${tier}`,
  returnIfPolicyAccepted: 'Return if policy accepted',
  returnIfProfileAccepted: 'Return if profile accepted',
  /** ≤ 3.29 */
  dropIfNoPolicies: (action = 'Drop') => `${action} if no policies passed packet`,
  /** 3.30+ */
  endOfTierDrop: (tier: string, action = 'Drop') => `End of tier ${tier}. ${action} if no policies passed packet`,
  dropIfNoProfiles: (action = 'Drop') => `${action} if no profiles matched`,
  unknownInterface: 'Unknown interface',
  /** cali-INPUT, VXLAN enabled (static.go, 3.2x+ wording; ≤ 3.1x: "…from whitelisted hosts"); ip6tables says IPv6. */
  allowVxlan: (family: 4 | 6 = 4) => `Allow IPv${family} VXLAN packets from allowed hosts`,
  dropVxlan: (family: 4 | 6 = 4) => `Drop IPv${family} VXLAN packets from non-allowed hosts`,
} as const;

/**
 * Felix's host allowlists for tunnel packets (rules/static.go): cali-INPUT accepts VXLAN (UDP 4789) or IP-in-IP only
 * from the addresses in these sets (every Calico node's tunnel parent address, plus externalNodesCIDRList) and drops
 * the rest. IPv6 sets are `cali60…`.
 */
export const FELIX_TUNNEL_SETS = { vxlan: 'all-vxlan-net', ipip: 'all-hosts-net' } as const;
export const felixIpsetName = (id: string, family: 4 | 6 = 4) => `cali${family}0${id}`;

/**
 * What a cali-INPUT rule comment says about the tunnel allowlist, in any Felix's wording: "Allow IPv4 VXLAN packets
 * from allowed hosts", "Drop VXLAN packets from non-whitelisted hosts", "Allow IPIP packets from Calico hosts",
 * "Drop IPIP packets from non-Calico hosts".
 */
export function decodeTunnelAllowlistComment(
  comment: string,
): { action: 'allow' | 'drop'; tunnel: 'vxlan' | 'ipip'; family: 4 | 6 } | null {
  const m =
    /^(?<action>Allow|Drop|Reject) (?:IPv(?<family>[46]) )?(?<tunnel>VXLAN|IPIP) packets from (?<non>non-)?/.exec(
      comment,
    );
  if (!m?.groups || (m.groups.action === 'Allow') === (m.groups.non !== undefined)) return null;
  return {
    action: m.groups.action === 'Allow' ? 'allow' : 'drop',
    tunnel: m.groups.tunnel === 'VXLAN' ? 'vxlan' : 'ipip',
    family: m.groups.family === '6' ? 6 : 4,
  };
}

/** Either form of the "no policy allowed it" rule's comment; the tier when the comment names one. */
export function decodeNoPolicyDropComment(comment: string): { tier: string | null; action: string } | null {
  const m = /^(?:End of tier (?<tier>\S+)\. )?(?<action>Drop|Reject) if no policies passed packet$/.exec(comment);
  return m?.groups ? { tier: m.groups.tier ?? null, action: m.groups.action! } : null;
}

/**
 * Felix's mark bits with the default IptablesMarkMask 0xffff0000 (config_params.go), allocated lowest bit first in
 * driver.go: accept, pass, then (3.30+) drop, then scratch0/1. Felix before 2.x/3.0 used 0x1000000 / 0x2000000.
 */
export const FELIX_DEFAULT_MARK_MASK = 0xffff0000;
export const FELIX_MARKS = {
  accept: 0x10000,
  pass: 0x20000,
  /** 3.30+ only: before, this bit was scratch0. */
  drop: 0x40000,
} as const;

/**
 * felix/generictables/rules.go RuleHashes with felix/iptables/renderer.go: the `cali:<hash>` ids of a chain's rules.
 * Each rule must be given as Felix renders it for hashing — `-A <chain> HASH <comments> <match> <action>`, with
 * Felix's long option names (`--jump`, `--goto`, `--in-interface`) — not as iptables-save prints it back. The first
 * hash chains from SHA-224 of the chain name, each next one from the previous.
 */
export function felixRuleHashes(chain: string, renderedRules: readonly string[]): string[] {
  let prev = createHash('sha224').update(chain).digest();
  return renderedRules.map((rule) => {
    prev = createHash('sha224').update(prev).update(rule).digest();
    return prev.toString('base64url').slice(0, FELIX_RULE_HASH_LENGTH);
  });
}
