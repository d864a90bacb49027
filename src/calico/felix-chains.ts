/**
 * Walks Calico Felix's filter-table chains for one workload interface the way an engineer reads `iptables-save`:
 * cali-FORWARD → cali-to-wl-dispatch / cali-from-wl-dispatch (through their `-<char>` children) → cali-tw-<iface> /
 * cali-fw-<iface> → the policy chains they jump to (directly, or through cali-gi-/cali-go- policy-group chains) →
 * the profile chains. Pure; takes a parsed filter table (src/parse/iptables-save.ts).
 *
 * Also finds host-level rules that drop Calico's own traffic before any policy: a DROP policy on FORWARD, and INPUT
 * rules dropping VXLAN (udp/4789), IP-in-IP (protocol 4) or BGP (tcp/179).
 */
import type { Counters, IptablesChain, IptablesRule, IptablesTable } from '../parse/iptables-save.ts';
import {
  decodeNoPolicyDropComment,
  decodeTunnelAllowlistComment,
  decodePolicyComment,
  decodeProfileComment,
  dispatchChainName,
  FELIX_CHAIN_PREFIX,
  FELIX_CHAINS,
  FELIX_NAMING_ERAS,
  FELIX_PREFIXES,
  isPolicyGroupChain,
  isSubDispatchChain,
  policyChainComment,
  policyChainName,
  type DecodedPolicyComment,
  type PolicyDirection,
  type PolicyKind,
  type PolicyRef,
  workloadChainName,
} from './felix-names.ts';

export interface RuleEvidence {
  chain: string;
  position: number;
  raw: string;
  counters: Counters | null;
}

export interface ProgrammedPolicy {
  /** cali-pi-… / cali-po-… */
  chain: string;
  /** The policy-group chain it was reached through, if any. */
  viaGroup: string | null;
  /** The policy chain's comment as Felix wrote it, and decoded; null when there is none (or no chain). */
  comment: string | null;
  decoded: DecodedPolicyComment | null;
  /** Tier from the workload chain's "Start of tier X" comment, or the comment's name prefix. */
  tier: string | null;
  /** The jump rule in the workload (or group) chain, with its counters: how many packets entered the policy. */
  jump: RuleEvidence;
  /** Whether the policy chain itself is in the table. */
  chainExists: boolean;
}

export interface DirectionWalk {
  direction: PolicyDirection;
  /** cali-to-wl-dispatch for ingress, cali-from-wl-dispatch for egress. */
  dispatchChain: string;
  /** cali-FORWARD sends this direction's packets to the dispatch chain. */
  forwardEntry: RuleEvidence | null;
  /** The rule (in the dispatch chain or one of its children) that sends this interface to its workload chain. */
  dispatchEntry: RuleEvidence | null;
  /** cali-tw-<iface> / cali-fw-<iface> */
  workloadChain: string;
  workloadChainExists: boolean;
  /** In the order Felix evaluates them. */
  policies: ProgrammedPolicy[];
  /** "Drop if no policies passed packet" / "End of tier X. Drop if no policies passed packet", one per tier. */
  noPolicyDrops: (RuleEvidence & { tier: string | null })[];
  /** Profile chains jumped to (cali-pri-kns.<ns>, …) and what they are. */
  profiles: { chain: string; profile: string | null; jump: RuleEvidence; chainExists: boolean }[];
  /** "Drop if no profiles matched". */
  noProfileDrop: RuleEvidence | null;
  /** Every rule of the workload chain, for evidence. */
  rules: RuleEvidence[];
}

export interface FelixWalk {
  iface: string;
  ingress: DirectionWalk;
  egress: DirectionWalk;
}

const evidence = (r: IptablesRule): RuleEvidence => ({
  chain: r.chain,
  position: r.position,
  raw: r.raw,
  counters: r.packets === null || r.bytes === null ? null : { packets: r.packets, bytes: r.bytes },
});

const targetName = (r: IptablesRule): string | null => r.target?.name ?? null;

/** Interface match (`-o cali123` / `-i cali+`) of a dispatch rule, negation aside. */
function ifaceMatches(pattern: string, iface: string): boolean {
  return pattern.endsWith('+') ? iface.startsWith(pattern.slice(0, -1)) : pattern === iface;
}

/** Follows the dispatch chain and its children to the rule that sends `iface` to `workloadChain`. */
function findDispatchEntry(
  table: IptablesTable,
  root: string,
  direction: PolicyDirection,
  iface: string,
  workloadChain: string,
): IptablesRule | null {
  const seen = new Set<string>();
  const queue = [root];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const r of table.chains.get(name)?.rules ?? []) {
      const m = direction === 'ingress' ? r.matches.outInterface : r.matches.inInterface;
      if (m && (m.negated || !ifaceMatches(m.value, iface))) continue;
      const t = targetName(r);
      if (t === workloadChain) return r;
      if (t && isSubDispatchChain(t, root)) queue.push(t);
    }
  }
  return null;
}

function isPolicyChain(chain: string, direction: PolicyDirection): boolean {
  return chain.startsWith(direction === 'ingress' ? FELIX_PREFIXES.policyInbound : FELIX_PREFIXES.policyOutbound);
}

function isProfileChain(chain: string, direction: PolicyDirection): boolean {
  return chain.startsWith(direction === 'ingress' ? FELIX_PREFIXES.profileInbound : FELIX_PREFIXES.profileOutbound);
}

/** The policy comment on a policy chain (Felix puts it on the chain's first rule). */
function chainPolicyComment(
  chain: IptablesChain | undefined,
): { comment: string; decoded: DecodedPolicyComment } | null {
  for (const c of chain?.rules[0]?.matches.comments ?? []) {
    const decoded = decodePolicyComment(c);
    if (decoded) return { comment: c, decoded };
  }
  return null;
}

function chainProfileComment(chain: IptablesChain | undefined): string | null {
  for (const c of chain?.rules[0]?.matches.comments ?? []) {
    const d = decodeProfileComment(c);
    if (d) return d.profile;
  }
  return null;
}

function walkDirection(table: IptablesTable, iface: string, direction: PolicyDirection): DirectionWalk {
  const dispatchChain = dispatchChainName(direction);
  const workloadChain = workloadChainName(direction, iface);
  const forwardEntry =
    (table.chains.get(FELIX_CHAINS.filterForward)?.rules ?? []).find((r) => targetName(r) === dispatchChain) ?? null;
  const dispatchEntry = findDispatchEntry(table, dispatchChain, direction, iface, workloadChain);
  const wl = table.chains.get(workloadChain);
  const policies: ProgrammedPolicy[] = [];
  const noPolicyDrops: DirectionWalk['noPolicyDrops'] = [];
  const profiles: DirectionWalk['profiles'] = [];
  let noProfileDrop: RuleEvidence | null = null;
  let tier: string | null = null;

  const addPolicy = (jump: IptablesRule, chainName: string, viaGroup: string | null) => {
    const chain = table.chains.get(chainName);
    const found = chainPolicyComment(chain);
    const decoded = found?.decoded ?? null;
    policies.push({
      chain: chainName,
      viaGroup,
      comment: found?.comment ?? null,
      decoded,
      tier: tier ?? decoded?.tier ?? null,
      jump: evidence(jump),
      chainExists: chain !== undefined,
    });
  };

  for (const r of wl?.rules ?? []) {
    for (const c of r.matches.comments) {
      const t = /^Start of tier (?<tier>\S+)$/.exec(c);
      if (t?.groups) tier = t.groups.tier!;
      const d = decodeNoPolicyDropComment(c);
      if (d && (targetName(r) === 'DROP' || targetName(r) === 'REJECT'))
        noPolicyDrops.push({ ...evidence(r), tier: d.tier ?? tier });
      if (/^(?:Drop|Reject) if no profiles matched$/.test(c)) noProfileDrop = evidence(r);
    }
    const t = targetName(r);
    if (!t) continue;
    if (isPolicyChain(t, direction)) addPolicy(r, t, null);
    else if (isPolicyGroupChain(t) === direction) {
      for (const g of table.chains.get(t)?.rules ?? []) {
        const gt = targetName(g);
        if (gt && isPolicyChain(gt, direction)) addPolicy(g, gt, t);
      }
    } else if (isProfileChain(t, direction)) {
      const chain = table.chains.get(t);
      const prefix = direction === 'ingress' ? FELIX_PREFIXES.profileInbound : FELIX_PREFIXES.profileOutbound;
      const fromName = t.slice(prefix.length);
      profiles.push({
        chain: t,
        profile: chainProfileComment(chain) ?? (fromName.startsWith('_') ? null : fromName),
        jump: evidence(r),
        chainExists: chain !== undefined,
      });
    }
  }
  return {
    direction,
    dispatchChain,
    forwardEntry: forwardEntry ? evidence(forwardEntry) : null,
    dispatchEntry: dispatchEntry ? evidence(dispatchEntry) : null,
    workloadChain,
    workloadChainExists: wl !== undefined,
    policies,
    noPolicyDrops,
    profiles,
    noProfileDrop,
    rules: (wl?.rules ?? []).map(evidence),
  };
}

/** `filter`: the filter table of an iptables-save (parseIptablesSave(...).tables.get('filter')). */
export function walkFelixChains(filter: IptablesTable, iface: string): FelixWalk {
  return { iface, ingress: walkDirection(filter, iface, 'ingress'), egress: walkDirection(filter, iface, 'egress') };
}

export interface PolicyQuery {
  direction: PolicyDirection;
  kind: PolicyKind;
  namespace?: string;
  name: string;
  tier?: string;
}

export interface PolicyProgrammedAnswer {
  programmed: boolean;
  /** The programmed policy that matched, and how. */
  match: ProgrammedPolicy | null;
  by: 'chain-name' | 'comment' | null;
  /** The chain names the policy would have in each Felix naming era (what to grep for). */
  expectedChains: string[];
}

/**
 * Is this API policy programmed for this workload, in this direction? Matched by Felix's computed chain name in any
 * naming era (≤3.28, 3.29–3.31, 3.32+) and by the policy chain's comment in its old ("Policy ns/knp.default.x") and
 * new ("KubernetesNetworkPolicy ns/x") forms.
 */
export function policyProgrammed(walk: FelixWalk, q: PolicyQuery): PolicyProgrammedAnswer {
  const ref: PolicyRef = {
    kind: q.kind,
    name: q.name,
    ...(q.namespace ? { namespace: q.namespace } : {}),
    ...(q.tier ? { tier: q.tier } : {}),
  };
  const expectedChains = [...new Set(FELIX_NAMING_ERAS.map((era) => policyChainName(q.direction, ref, era)))];
  const expectedComments = new Set(FELIX_NAMING_ERAS.map((era) => policyChainComment(q.direction, ref, era)));
  const wantName =
    q.kind === 'KubernetesNetworkPolicy' || (q.tier ?? 'default') !== 'default'
      ? q.name
      : q.name.replace(/^default\./, '');
  const programmed = (q.direction === 'ingress' ? walk.ingress : walk.egress).policies;
  const byName = programmed.find((p) => expectedChains.includes(p.chain));
  if (byName) return { programmed: true, match: byName, by: 'chain-name', expectedChains };
  const byComment = programmed.find((p) => {
    const d = p.decoded;
    if (!d || d.direction !== q.direction) return false;
    if (expectedComments.has(p.comment ?? '')) return true;
    return d.name === wantName && (d.namespace ?? '') === (q.namespace ?? '') && (d.kind === null || d.kind === q.kind);
  });
  if (byComment) return { programmed: true, match: byComment, by: 'comment', expectedChains };
  return { programmed: false, match: null, by: null, expectedChains };
}

/** VXLAN's IANA port (RFC 7348), which Calico uses by default (FelixConfiguration vxlanPort 4789). */
export const VXLAN_UDP_PORT = 4789;
/** IP protocol number of IP-in-IP (IANA: 4, "ipencap" in /etc/protocols). */
export const IPIP_PROTOCOL = 4;
/** BGP's IANA port (RFC 4271), BIRD's listening port on Calico nodes. */
export const BGP_TCP_PORT = 179;

export type HostKillerKind = 'forward-policy-drop' | 'input-drops-vxlan' | 'input-drops-ipip' | 'input-drops-bgp';

export interface HostKiller {
  kind: HostKillerKind;
  /** "FORWARD policy DROP", "drop rules matching udp dport 4789 in INPUT" — for callers to phrase a finding. */
  description: string;
  /** The rule (absent for a chain policy). */
  rule: RuleEvidence | null;
  counters: Counters | null;
}

const isDropTarget = (r: IptablesRule) => r.target?.name === 'DROP' || r.target?.name === 'REJECT';

function portCovers(spec: string, port: number): boolean {
  return spec.split(',').some((part) => {
    const [lo, hi] = part.split(':');
    return hi === undefined
      ? Number(lo) === port
      : port >= (lo === '' ? 0 : Number(lo)) && port <= (hi === '' ? 65535 : Number(hi));
  });
}

/** Does a DROP/REJECT rule hit this protocol (and port)? A rule without a protocol or port match hits everything. */
function ruleHits(r: IptablesRule, protocol: string[], port: number | null): boolean {
  const p = r.matches.protocol;
  if (p && (p.negated ? protocol.includes(p.value.toLowerCase()) : !protocol.includes(p.value.toLowerCase())))
    return false;
  if (
    port !== null &&
    r.matches.dport &&
    (r.matches.dport.negated ? portCovers(r.matches.dport.value, port) : !portCovers(r.matches.dport.value, port))
  )
    return false;
  // A rule narrowed by source/destination/interface/state is reported too: the caller can read its raw line.
  return true;
}

/**
 * Host-level rules that stop Calico's data plane before any policy: FORWARD's policy DROP (with its counters), and
 * DROP/REJECT rules in INPUT (and the chains INPUT jumps to, other than Felix's) hitting udp/4789, protocol 4 or
 * tcp/179. Catch-all drops (no protocol) are reported for each.
 */
export function hostKillers(filter: IptablesTable): HostKiller[] {
  const out: HostKiller[] = [];
  const forward = filter.chains.get('FORWARD');
  if (forward?.policy === 'DROP') {
    out.push({
      kind: 'forward-policy-drop',
      description: 'FORWARD policy DROP',
      rule: null,
      counters: forward.policyCounters,
    });
  }
  const inputChains: IptablesChain[] = [];
  const seen = new Set<string>();
  const queue = ['INPUT'];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const c = filter.chains.get(name);
    if (!c) continue;
    inputChains.push(c);
    for (const r of c.rules) {
      const t = r.target?.name;
      // Felix's own chains are not followed: its drops are policy, which the walk reports.
      if (t && filter.chains.has(t) && !t.startsWith(FELIX_CHAIN_PREFIX)) queue.push(t);
    }
  }
  const checks: { kind: HostKillerKind; protocol: string[]; port: number | null; what: string }[] = [
    {
      kind: 'input-drops-vxlan',
      protocol: ['udp', '17'],
      port: VXLAN_UDP_PORT,
      what: `udp dport ${VXLAN_UDP_PORT} (VXLAN)`,
    },
    {
      kind: 'input-drops-ipip',
      protocol: ['4', 'ipencap', 'ipip'],
      port: null,
      what: `protocol ${IPIP_PROTOCOL} (IP-in-IP)`,
    },
    { kind: 'input-drops-bgp', protocol: ['tcp', '6'], port: BGP_TCP_PORT, what: `tcp dport ${BGP_TCP_PORT} (BGP)` },
  ];
  for (const c of inputChains) {
    for (const r of c.rules) {
      if (!isDropTarget(r) || r.matches.ctstate?.states.includes('INVALID')) continue;
      for (const k of checks) {
        if (!ruleHits(r, k.protocol, k.port)) continue;
        const ev = evidence(r);
        out.push({
          kind: k.kind,
          description: `drop rules matching ${k.what} in ${c.name}`,
          rule: ev,
          counters: ev.counters,
        });
      }
    }
  }
  return out;
}

/** Felix's allowlist for one tunnel in cali-INPUT: accept from the hosts in `set`, drop from the rest. */
export interface TunnelAllowlist {
  tunnel: 'vxlan' | 'ipip';
  family: 4 | 6;
  /** The ipset the allow rule matches as source (cali40all-vxlan-net …); null when the allow rule is missing. */
  set: string | null;
  allow: RuleEvidence | null;
  drop: RuleEvidence;
}

/**
 * The tunnel allowlists Felix programmed in cali-INPUT (rules/static.go), found by their comments in any Felix's
 * wording: a VXLAN or IP-in-IP packet from an address outside the set is dropped before it is decapsulated, so
 * a node Calico does not list (or lists under another address) cannot reach the pods behind this one.
 */
export function tunnelAllowlists(filter: IptablesTable): TunnelAllowlist[] {
  const rules = filter.chains.get(FELIX_CHAINS.filterInput)?.rules ?? [];
  const decoded = rules.flatMap((r) => {
    const d = r.matches.comments.map(decodeTunnelAllowlistComment).find((x) => x !== null);
    return d ? [{ rule: r, ...d }] : [];
  });
  return decoded
    .filter((d) => d.action === 'drop' && isDropTarget(d.rule))
    .map((d) => {
      const allow = decoded.find((a) => a.action === 'allow' && a.tunnel === d.tunnel && a.family === d.family);
      // Felix ≤ 3.0 wrote only the drop, for sources outside the set: `-m set ! --match-set cali4-all-hosts src`.
      const set =
        allow?.rule.matches.sets.find((m) => !m.negated && m.flags === 'src')?.name ??
        d.rule.matches.sets.find((m) => m.negated && m.flags === 'src')?.name ??
        null;
      return {
        tunnel: d.tunnel,
        family: d.family,
        set,
        allow: allow ? evidence(allow.rule) : null,
        drop: evidence(d.rule),
      };
    });
}
