/**
 * The filter-table chains Felix would program on one lab node, as `iptables-restore` input. Pure: normalized
 * policies (src/policy) and the lab's pods in, chains out; the reconciler (policy-reconciler.ts) applies them.
 *
 * The lab plays Felix 3.28 in iptables mode (chain names and comments of FELIX_ERA, marks allocated as 3.28 does),
 * following felix/rules/{endpoints,dispatch,policy,static}.go. One rendering is one family's table: iptables for
 * IPv4, and on a dual-stack lab ip6tables for IPv6 with the same chains — the pods' IPv6 addresses, the rules'
 * IPv6 nets, ipVersion 6 rules, and the cali60 allowlist of the nodes' IPv6 addresses:
 *
 *   INPUT    -j cali-INPUT    (VXLAN labs: accept UDP 4789 from the hosts in cali40all-vxlan-net, drop the rest)
 *   FORWARD  -j cali-FORWARD
 *   cali-FORWARD          clear pass/scratch marks; -i cali+ → cali-from-wl-dispatch; -o cali+ → cali-to-wl-dispatch
 *   cali-*-wl-dispatch    -i/-o <iface> -g cali-fw-/cali-tw-<iface>; "Unknown interface" DROP
 *   cali-tw-/cali-fw-…    conntrack ESTABLISHED,RELATED ACCEPT, INVALID DROP, clear the accept mark; one jump per
 *                         policy selecting the workload (order, then name) while no Pass, "Return if policy
 *                         accepted" after each, "Drop if no policies passed packet"; then the namespace profile
 *                         (kns.<ns>: allow) with "Return if profile accepted" and "Drop if no profiles matched"
 *   cali-pi-/cali-po-…    one policy direction: Allow = accept mark + RETURN, Deny = DROP, Pass = pass mark +
 *                         RETURN, Log = rate-limited LOG
 *   cali-pri-/cali-pro-…  the namespace profiles
 *
 * The VXLAN allowlist is a real ipset in the node's namespace, as Felix keeps it; where Felix matches policy
 * selectors with ipsets (`-m set --match-set cali40s:…`), the lab writes one rule per pod
 * address (`-s 10.244.0.5/32`): the same packets match, and nothing outside the node namespace (ipset has no per
 * netns view in older kernels' tools) is needed. Rules that need several negations at once (ipBlock except lists,
 * notPorts with a selector…) use a scratch mark as Felix does: set on any positive match, cleared by each exclusion.
 *
 * Every rule carries a `cali:<id>` comment computed with Felix's hash chaining (felixRuleHashes) over the rule as
 * rendered here; the ids are Felix-shaped, not the ones Felix would compute from its own long-option rendering. The
 * reconciler compares them with what the node has to rewrite only the chains that changed.
 */
import { cidrContains, parseIp, type Cidr } from '../policy/cidr.ts';
import { entitySelectsPod, type ContainerPort, type PodEndpoint } from '../policy/evaluate.ts';
import { policiesForEndpoint } from '../policy/describe-policy.ts';
import type {
  Direction,
  EntityMatch,
  NormalizedPolicy,
  NormalizedRule,
  PortMatch,
  TierInfo,
} from '../policy/policy-model.ts';
import {
  dispatchChainName,
  FELIX_CHAINS,
  FELIX_CHAIN_PREFIX,
  FELIX_COMMENTS,
  FELIX_MARKS,
  felixIpsetName,
  felixRuleHashes,
  FELIX_TUNNEL_SETS,
  namespaceProfile,
  policyChainComment,
  policyChainName,
  profileChainName,
  workloadChainName,
  type FelixNamingEra,
  type PolicyRef,
} from '../calico/felix-names.ts';
import type { IptablesTable } from '../parse/iptables-save.ts';
import type { LabPlan } from './plan.ts';
import { CALICO_VXLAN } from '../calico/naming.ts';

/** The lab names chains and comments as Felix ≤ 3.28 does ("Policy ns/knp.default.x ingress", "Drop if no policies…"). */
export const FELIX_ERA: FelixNamingEra = 'name';

/**
 * Mark bits (felix/dataplane/driver.go allocates from IptablesMarkMask 0xffff0000, lowest first). Before 3.30 the
 * third and fourth bits are scratch0/scratch1; 3.30 put its drop mark at 0x40000 and moved them up.
 */
export const MARKS = {
  accept: FELIX_MARKS.accept,
  pass: FELIX_MARKS.pass,
  scratch0: 0x40000,
  scratch1: 0x80000,
} as const;

/** xt_multiport matches at most XT_MULTI_PORTS = 15 ports per rule, a range counting as two (linux/netfilter/xt_multiport.h). */
export const MULTIPORT_MAX = 15;

/**
 * Log rules: Felix writes `-j LOG --log-prefix "calico-packet: " --log-level 5` (felix/rules, IptablesLogPrefix default
 * "calico-packet") without a rate limit; the lab adds one (ours: 10/s, burst 20) so a loop cannot flood the kernel log.
 * Kernels log from non-initial namespaces only with net.netfilter.nf_log_all_netns=1, so usually nothing is printed.
 */
export const LOG_LIMIT = { rate: '10/sec', burst: 20 } as const;
const LOG_PREFIX = 'calico-packet: ';

/** A pod as the renderer sees it: where it is, what selects it, and its named ports. */
export interface FelixWorkload extends PodEndpoint {
  node: string;
  caliInterface: string;
}

export interface FelixRenderInput {
  node: string;
  /** Every pod of the cluster: selectors resolve against all of them, workload chains are written for the node's. */
  workloads: readonly FelixWorkload[];
  /** Namespace → labels. */
  namespaces: Record<string, Record<string, string>>;
  policies: readonly NormalizedPolicy[];
  /** Calico's tiers in evaluation order (normalizePolicies' `tiers`); absent: only the default tier. */
  tiers?: readonly TierInfo[];
  /** VXLAN enabled: cali-INPUT accepts UDP `port` only from the hosts in ipset `set` (felixVxlanAllowlist). */
  vxlanAllowlist?: { set: string; port: number };
  /** The table rendered: iptables (4, the default) or ip6tables (6). `workloads` carry this family's addresses. */
  family?: 4 | 6;
}

export interface RenderedChain {
  name: string;
  /** `-A <chain> …` lines, as iptables-restore reads them. */
  rules: string[];
  /** The `cali:<id>` of each rule, in order. */
  ids: string[];
}

export interface FelixRendering {
  node: string;
  /** Every Calico chain of the node's filter table, in the order written. */
  chains: RenderedChain[];
  /** The FORWARD rule that hooks cali-FORWARD in (FORWARD is built in: inserted, never flushed). */
  forwardHook: string;
  /** The INPUT rule that hooks cali-INPUT in, when the node has one (VXLAN's allowlist). */
  inputHook: string | null;
  /** What the lab could not program as Felix would (a rule skipped, an unknown selection), for the log. */
  notes: string[];
}

/** A rule before its id: comments, matches and target as tokens (already quoted where needed). */
interface RuleSpec {
  comments?: string[];
  matches?: string[];
  target?: string[];
}

const hex = (n: number) => `0x${n.toString(16)}`;
const quote = (s: string) => `"${s.replaceAll('"', "'")}"`;
const setMark = (bits: number) => ['-j', 'MARK', '--set-xmark', `${hex(bits)}/${hex(bits)}`];
const clearMark = (bits: number) => ['-j', 'MARK', '--set-xmark', `0x0/${hex(bits)}`];
const markSet = (bits: number) => ['-m', 'mark', '--mark', `${hex(bits)}/${hex(bits)}`];
const markClear = (bits: number) => ['-m', 'mark', '--mark', `0x0/${hex(bits)}`];

function renderChain(name: string, specs: readonly RuleSpec[]): RenderedChain {
  const bodies = specs.map((s) =>
    [
      ...(s.comments ?? []).flatMap((c) => ['-m', 'comment', '--comment', quote(c)]),
      ...(s.matches ?? []),
      ...(s.target ?? []),
    ].join(' '),
  );
  const ids = felixRuleHashes(
    name,
    bodies.map((b) => `-A ${name} ${b}`.trimEnd()),
  ).map((h) => `cali:${h}`);
  const rules = bodies.map((b, i) => `-A ${name} -m comment --comment ${quote(ids[i]!)}${b ? ` ${b}` : ''}`);
  return { name, rules, ids };
}

/** The Felix-side reference of a normalized policy (kinds as Felix names them). */
export function policyRef(p: NormalizedPolicy): PolicyRef {
  const kind =
    p.kind === 'NetworkPolicy'
      ? 'KubernetesNetworkPolicy'
      : p.kind === 'CalicoNetworkPolicy'
        ? 'NetworkPolicy'
        : 'GlobalNetworkPolicy';
  return { kind, name: p.name, ...(p.namespace ? { namespace: p.namespace } : {}), tier: p.tier };
}

const PROTOCOL_WORDS: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  58: 'ipv6-icmp',
  132: 'sctp',
  136: 'udplite',
};
const ICMP = 1;
const ICMPV6 = 58;
const protocolWord = (n: number) => PROTOCOL_WORDS[n] ?? String(n);

function cidrText(c: Cidr): string {
  return `${c.range[0].toString()}/${c.range[1]}`;
}

function containsIp(cidrs: readonly Cidr[], ip: string): boolean {
  const addr = parseIp(ip, 'pod ip');
  return cidrs.some((c) => cidrContains(c, addr));
}

/** Numeric port entries in multiport chunks of at most MULTIPORT_MAX slots. */
function portChunks(ports: readonly PortMatch[]): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let slots = 0;
  for (const p of ports) {
    if (p.kind !== 'range') continue;
    const cost = p.min === p.max ? 1 : 2;
    if (slots + cost > MULTIPORT_MAX) {
      chunks.push(current.join(','));
      current = [];
      slots = 0;
    }
    current.push(p.min === p.max ? String(p.min) : `${p.min}:${p.max}`);
    slots += cost;
  }
  if (current.length) chunks.push(current.join(','));
  return chunks;
}

/** One alternative of what a side (source or destination) matches: an address and/or ports. */
interface SideOption {
  addr: string | null;
  ports: string | null;
}

interface SideMatch {
  /** null = nothing can match (a selector matching no pod, an IPv6-only net). */
  options: SideOption[] | null;
  exclusions: SideOption[];
}

interface RenderCtx {
  input: FelixRenderInput;
  family: 4 | 6;
  notes: string[];
}

/** A pod address as a one-address CIDR of the table's family. */
function hostCidr(ip: string, ctx: RenderCtx): string {
  return `${ip}/${ctx.family === 6 ? 128 : 32}`;
}

function namedPortTargets(
  name: string,
  protocol: number | null,
  ctx: RenderCtx,
  within: (w: FelixWorkload) => boolean,
): SideOption[] {
  const word = protocol === null ? 'TCP' : protocolWord(protocol).toUpperCase();
  return ctx.input.workloads.flatMap((w) =>
    within(w)
      ? w.containerPorts
          .filter((c) => c.name === name && c.protocol.toUpperCase() === word)
          .map((c) => ({ addr: hostCidr(w.ip, ctx), ports: String(c.port) }))
      : [],
  );
}

function sideMatch(
  e: EntityMatch,
  rule: NormalizedRule,
  policy: NormalizedPolicy,
  label: string,
  ctx: RenderCtx,
): SideMatch {
  const nets = e.nets?.filter((n) => n.family === ctx.family) ?? null;
  if (e.nets && nets!.length === 0) return { options: null, exclusions: [] };
  const pods = ctx.input.workloads.map((w) => ({ w, sel: entitySelectsPod(e, policy, w, ctx.input.namespaces) }));
  const selects = pods[0]?.sel.selects ?? Boolean(e.selector || e.namespaceSelector || e.serviceAccounts);
  for (const { w, sel } of pods)
    if (sel.selected === 'unknown' || sel.excluded === 'unknown')
      ctx.notes.push(
        `${label}: whether ${w.namespace}/${w.name} matches is not known (service account labels); treated as not matching`,
      );
  let addrs: string[] | null = null;
  let within: (w: FelixWorkload) => boolean = (w) => nets === null || containsIp(nets, w.ip);
  if (selects) {
    const chosen = pods
      .filter(({ w, sel }) => sel.selected === true && (nets === null || containsIp(nets, w.ip)))
      .map(({ w }) => w);
    const ips = new Set(chosen.map((w) => w.ip));
    within = (w) => ips.has(w.ip);
    addrs = chosen.map((w) => hostCidr(w.ip, ctx));
    if (addrs.length === 0) return { options: null, exclusions: [] };
  } else if (nets !== null) {
    addrs = nets.map(cidrText);
  }
  let options: SideOption[];
  if (e.ports) {
    const numeric = portChunks(e.ports);
    options = numeric.flatMap((ports) => (addrs ?? [null]).map((addr) => ({ addr, ports })));
    for (const p of e.ports)
      if (p.kind === 'named') options.push(...namedPortTargets(p.name, rule.protocol, ctx, within));
    if (options.length === 0) return { options: null, exclusions: [] };
  } else {
    options = (addrs ?? [null]).map((addr) => ({ addr, ports: null }));
  }
  const exclusions: SideOption[] = [];
  for (const n of e.notNets ?? []) if (n.family === ctx.family) exclusions.push({ addr: cidrText(n), ports: null });
  if (e.notSelector)
    for (const { w, sel } of pods)
      if (sel.excluded === true) exclusions.push({ addr: hostCidr(w.ip, ctx), ports: null });
  if (e.notPorts) {
    for (const ports of portChunks(e.notPorts)) exclusions.push({ addr: null, ports });
    for (const p of e.notPorts)
      if (p.kind === 'named') exclusions.push(...namedPortTargets(p.name, rule.protocol, ctx, () => true));
  }
  return { options, exclusions };
}

function sideTokens(o: SideOption, role: 'source' | 'destination', negate = false): string[] {
  const out: string[] = [];
  if (o.addr !== null) out.push(...(negate ? ['!'] : []), role === 'source' ? '-s' : '-d', o.addr);
  if (o.ports !== null)
    out.push('-m', 'multiport', ...(negate ? ['!'] : []), role === 'source' ? '--sports' : '--dports', o.ports);
  return out;
}

/** The iptables rules of one policy rule. */
function ruleSpecs(rule: NormalizedRule, policy: NormalizedPolicy, direction: Direction, ctx: RenderCtx): RuleSpec[] {
  const label = `${policyChainComment(direction, policyRef(policy), FELIX_ERA)} rule ${rule.index + 1}`;
  if (rule.broken) {
    ctx.notes.push(`${label} skipped: it could not be read (${rule.broken})`);
    return [];
  }
  const undecidable = [...rule.undecidable, ...rule.source.undecidable, ...rule.destination.undecidable];
  if (undecidable.length) {
    ctx.notes.push(`${label} skipped: the lab does not program ${undecidable.join(', ')}`);
    return [];
  }
  // Each family's table holds its rules only; ICMP matches nothing over IPv6, nor ICMPv6 over IPv4.
  if (rule.ipVersion !== null && rule.ipVersion !== ctx.family) return [];
  if (rule.protocol === (ctx.family === 6 ? ICMP : ICMPV6)) return [];
  const src = sideMatch(rule.source, rule, policy, label, ctx);
  const dst = sideMatch(rule.destination, rule, policy, label, ctx);
  if (src.options === null || dst.options === null) return [];
  const base: string[] = [];
  if (rule.protocol !== null) base.push('-p', protocolWord(rule.protocol));
  else if (rule.notProtocol !== null) base.push('!', '-p', protocolWord(rule.notProtocol));
  const alts = src.options.flatMap((s) =>
    dst.options!.map((d) => [...base, ...sideTokens(s, 'source'), ...sideTokens(d, 'destination')]),
  );
  const exclusions = [
    ...src.exclusions.map((o) => sideTokens(o, 'source')),
    ...dst.exclusions.map((o) => sideTokens(o, 'destination')),
  ];
  const action: { matches: string[]; target: string[]; then: RuleSpec | null } =
    rule.action === 'Allow'
      ? {
          matches: [],
          target: setMark(MARKS.accept),
          then: { matches: markSet(MARKS.accept), target: ['-j', 'RETURN'] },
        }
      : rule.action === 'Pass'
        ? { matches: [], target: setMark(MARKS.pass), then: { matches: markSet(MARKS.pass), target: ['-j', 'RETURN'] } }
        : rule.action === 'Deny'
          ? { matches: [], target: ['-j', 'DROP'], then: null }
          : {
              matches: ['-m', 'limit', '--limit', LOG_LIMIT.rate, '--limit-burst', String(LOG_LIMIT.burst)],
              target: ['-j', 'LOG', '--log-prefix', quote(LOG_PREFIX), '--log-level', '5'],
              then: null,
            };
  const specs: RuleSpec[] = [];
  // One address exclusion on a side no alternative names: iptables says it inline (`! -d 10.0.0.0/8`).
  const single =
    src.exclusions.length + dst.exclusions.length === 1
      ? src.exclusions[0]
        ? { o: src.exclusions[0], role: 'source' as const, side: src }
        : { o: dst.exclusions[0]!, role: 'destination' as const, side: dst }
      : null;
  const inline =
    single !== null &&
    (single.o.ports === null || single.o.addr === null) &&
    single.side.options!.every((o) => (single.o.ports === null ? o.addr === null : o.ports === null));
  if (exclusions.length === 0 || inline) {
    const neg = inline ? sideTokens(single.o, single.role, true) : [];
    for (const alt of alts) specs.push({ matches: [...alt, ...neg, ...action.matches], target: action.target });
  } else {
    specs.push({ target: clearMark(MARKS.scratch0) });
    for (const alt of alts) specs.push({ matches: alt, target: setMark(MARKS.scratch0) });
    // The protocol goes on every exclusion too: multiport needs it, and it keeps each exclusion as narrow as the rule.
    for (const ex of exclusions)
      specs.push({ matches: [...markSet(MARKS.scratch0), ...base, ...ex], target: clearMark(MARKS.scratch0) });
    specs.push({ matches: [...markSet(MARKS.scratch0), ...action.matches], target: action.target });
  }
  if (action.then) specs.push(action.then);
  return specs;
}

function policyChain(policy: NormalizedPolicy, direction: Direction, ctx: RenderCtx): RenderedChain {
  const ref = policyRef(policy);
  const specs = policy[direction].flatMap((r) => ruleSpecs(r, policy, direction, ctx));
  // Felix puts the policy's comment on the chain's first rule (a rule with no target when the policy has none).
  const first = specs[0] ?? {};
  specs[0] = { ...first, comments: [policyChainComment(direction, ref, FELIX_ERA), ...(first.comments ?? [])] };
  return renderChain(policyChainName(direction, ref, FELIX_ERA), specs);
}

function profileChain(namespace: string, direction: Direction): RenderedChain {
  const profile = namespaceProfile(namespace);
  // Calico's namespace profile allows everything (libcalico-go conversion: one Allow rule each way).
  return renderChain(profileChainName(direction, profile), [
    { comments: [`Profile ${profile} ${direction}`], target: setMark(MARKS.accept) },
    { matches: markSet(MARKS.accept), target: ['-j', 'RETURN'] },
  ]);
}

function workloadChain(
  w: FelixWorkload,
  direction: Direction,
  policies: readonly NormalizedPolicy[],
  tiers: readonly TierInfo[],
): RenderedChain {
  const specs: RuleSpec[] = [
    { matches: ['-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED'], target: ['-j', 'ACCEPT'] },
    { matches: ['-m', 'conntrack', '--ctstate', 'INVALID'], target: ['-j', 'DROP'] },
    { target: clearMark(MARKS.accept) },
  ];
  // One section per tier that selects the workload, in tier order: the pass mark is cleared at its start, a Pass
  // rule sets it (skipping the tier's later policies and its end-of-tier drop), as Felix's tiered rendering does.
  const onlyDefault = tiers.length <= 1;
  for (const tier of tiers) {
    const inTier = policies.filter((p) => p.tier === tier.name);
    if (inTier.length === 0) continue;
    specs.push({
      comments: [onlyDefault ? FELIX_COMMENTS.startOfPolicies : FELIX_COMMENTS.startOfTier(tier.name)],
      target: clearMark(MARKS.pass),
    });
    for (const p of inTier) {
      specs.push({
        matches: markClear(MARKS.pass),
        target: ['-j', policyChainName(direction, policyRef(p), FELIX_ERA)],
      });
      specs.push({
        comments: [FELIX_COMMENTS.returnIfPolicyAccepted],
        matches: markSet(MARKS.accept),
        target: ['-j', 'RETURN'],
      });
    }
    if (tier.defaultAction === 'Deny')
      specs.push({
        comments: [onlyDefault ? FELIX_COMMENTS.dropIfNoPolicies() : FELIX_COMMENTS.endOfTierDrop(tier.name)],
        matches: markClear(MARKS.pass),
        target: ['-j', 'DROP'],
      });
  }
  specs.push({ target: ['-j', profileChainName(direction, namespaceProfile(w.namespace))] });
  specs.push({
    comments: [FELIX_COMMENTS.returnIfProfileAccepted],
    matches: markSet(MARKS.accept),
    target: ['-j', 'RETURN'],
  });
  specs.push({ comments: [FELIX_COMMENTS.dropIfNoProfiles()], target: ['-j', 'DROP'] });
  return renderChain(workloadChainName(direction, w.caliInterface), specs);
}

function dispatchChain(direction: Direction, local: readonly FelixWorkload[]): RenderedChain {
  const flag = direction === 'ingress' ? '-o' : '-i';
  return renderChain(dispatchChainName(direction), [
    ...local.map((w) => ({
      matches: [flag, w.caliInterface],
      target: ['-g', workloadChainName(direction, w.caliInterface)],
    })),
    { comments: [FELIX_COMMENTS.unknownInterface], target: ['-j', 'DROP'] },
  ]);
}

/** The node's Calico filter chains for these policies. */
export function renderFelixFilter(input: FelixRenderInput): FelixRendering {
  const family = input.family ?? 4;
  const ctx: RenderCtx = { input, family, notes: [] };
  const tiers =
    input.tiers && input.tiers.length > 0
      ? input.tiers
      : [{ name: 'default', order: null, defaultAction: 'Deny' as const }];
  const local = input.workloads
    .filter((w) => w.node === input.node)
    .sort((a, b) => (a.caliInterface < b.caliInterface ? -1 : 1));
  const workloadChains: RenderedChain[] = [];
  const active = new Map<string, RenderedChain>();
  for (const w of local) {
    const described = policiesForEndpoint(w, input.namespaces, input.policies);
    for (const direction of ['ingress', 'egress'] as const) {
      const applying: NormalizedPolicy[] = [];
      for (const d of described[direction]) {
        const p = input.policies.find((q) => q.kind === d.kind && q.namespace === d.namespace && q.name === d.name)!;
        if (d.applies === 'unknown') {
          ctx.notes.push(`${d.label} may select ${w.namespace}/${w.name} (${d.why}); not programmed for it`);
          continue;
        }
        applying.push(p);
        const chain = policyChainName(direction, policyRef(p), FELIX_ERA);
        if (!active.has(chain)) active.set(chain, policyChain(p, direction, ctx));
      }
      workloadChains.push(workloadChain(w, direction, applying, tiers));
    }
  }
  const namespaces = [...new Set(local.map((w) => w.namespace))].sort();
  const forward = renderChain(FELIX_CHAINS.filterForward, [
    // Felix clears the pass and scratch bits (0xe0000 in 3.28) before any policy runs.
    { target: clearMark(MARKS.pass | MARKS.scratch0 | MARKS.scratch1) },
    { matches: ['-i', 'cali+'], target: ['-j', FELIX_CHAINS.fromWorkloadDispatch] },
    { matches: ['-o', 'cali+'], target: ['-j', FELIX_CHAINS.toWorkloadDispatch] },
  ]);
  const hook = renderChain('FORWARD', [{ target: ['-j', FELIX_CHAINS.filterForward] }]);
  const vxlan = input.vxlanAllowlist;
  const inputChain = vxlan
    ? renderChain(FELIX_CHAINS.filterInput, [
        {
          comments: [FELIX_COMMENTS.allowVxlan(family)],
          matches: ['-p', 'udp', '-m', 'multiport', '--dports', String(vxlan.port), '-m', 'set', '--match-set', vxlan.set, 'src', '-m', 'addrtype', '--dst-type', 'LOCAL'], // prettier-ignore
          target: ['-j', 'ACCEPT'],
        },
        {
          comments: [FELIX_COMMENTS.dropVxlan(family)],
          matches: ['-p', 'udp', '-m', 'multiport', '--dports', String(vxlan.port), '-m', 'addrtype', '--dst-type', 'LOCAL'], // prettier-ignore
          target: ['-j', 'DROP'],
        },
      ])
    : null;
  return {
    node: input.node,
    chains: [
      ...(inputChain ? [inputChain] : []),
      forward,
      dispatchChain('egress', local),
      dispatchChain('ingress', local),
      ...workloadChains,
      ...[...active.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
      ...namespaces.flatMap((ns) => [profileChain(ns, 'ingress'), profileChain(ns, 'egress')]),
    ],
    forwardHook: hook.rules[0]!,
    inputHook: inputChain ? renderChain('INPUT', [{ target: ['-j', FELIX_CHAINS.filterInput] }]).rules[0]! : null,
    notes: [...new Set(ctx.notes)],
  };
}

/** The whole rendering as one `iptables-restore --noflush` input: every chain declared (so flushed) and filled. */
export function restoreText(r: FelixRendering, options: { hook?: boolean } = {}): string {
  return [
    '*filter',
    ...r.chains.map((c) => `:${c.name} - [0:0]`),
    ...r.chains.flatMap((c) => c.rules),
    ...(options.hook === false ? [] : hookLines(r, { forward: true, input: true })),
    'COMMIT',
    '',
  ].join('\n');
}

/** The hooks as inserted at the top of the built-in chains, as Felix inserts its own. */
function hookLines(r: FelixRendering, which: { forward: boolean; input: boolean }): string[] {
  return [
    ...(which.forward ? [r.forwardHook.replace(/^-A FORWARD /, '-I FORWARD 1 ')] : []),
    ...(which.input && r.inputHook ? [r.inputHook.replace(/^-A INPUT /, '-I INPUT 1 ')] : []),
  ];
}

/** What a node's filter table has now, as the reconciler reads it back (iptables-save, parsed). */
export interface CurrentFilter {
  /** Chain name → the `cali:` id of each rule (null for a rule without one). */
  chains: Map<string, (string | null)[]>;
  /** FORWARD already jumps to cali-FORWARD. */
  hooked: boolean;
  /** INPUT already jumps to cali-INPUT (absent: no). */
  inputHooked?: boolean;
}

/** Reads a node's filter table (parsed iptables-save) into what planApply compares. */
export function currentFilterOf(table: IptablesTable | undefined): CurrentFilter {
  const chains = new Map<string, (string | null)[]>();
  for (const [name, chain] of table?.chains ?? []) {
    chains.set(
      name,
      chain.rules.map((r) => r.matches.comments.find((c) => c.startsWith('cali:')) ?? null),
    );
  }
  const jumps = (chain: string, to: string) =>
    (table?.chains.get(chain)?.rules ?? []).some((r) => r.target?.name === to);
  return {
    chains,
    hooked: jumps('FORWARD', FELIX_CHAINS.filterForward),
    inputHooked: jumps('INPUT', FELIX_CHAINS.filterInput),
  };
}

export interface ApplyPlan {
  /** Chains to (re)write, in rendering order. */
  write: string[];
  /** Calico chains on the node that no longer belong. */
  remove: string[];
  hook: boolean;
  /** INPUT gets its jump to cali-INPUT. */
  inputHook: boolean;
  /** null when the node already has exactly these chains. */
  text: string | null;
}

/**
 * The smallest iptables-restore that brings the node to the rendering, Felix's way: chains whose `cali:` ids already
 * match are left alone (their counters keep counting), changed ones are flushed and refilled, stale ones flushed and
 * then deleted once nothing jumps to them — all in one atomic COMMIT.
 */
export function planApply(r: FelixRendering, current: CurrentFilter): ApplyPlan {
  const wanted = new Set(r.chains.map((c) => c.name));
  const write = r.chains
    .filter((c) => JSON.stringify(current.chains.get(c.name) ?? null) !== JSON.stringify(c.ids))
    .map((c) => c.name);
  const remove = [...current.chains.keys()]
    .filter((name) => name.startsWith(FELIX_CHAIN_PREFIX) && !wanted.has(name))
    .sort();
  const hook = !current.hooked;
  const inputHook = r.inputHook !== null && current.inputHooked !== true;
  if (write.length === 0 && remove.length === 0 && !hook && !inputHook)
    return { write, remove, hook, inputHook, text: null };
  const chains = r.chains.filter((c) => write.includes(c.name));
  const text = [
    '*filter',
    ...[...chains.map((c) => c.name), ...remove].map((name) => `:${name} - [0:0]`),
    ...chains.flatMap((c) => c.rules),
    ...hookLines(r, { forward: hook, input: inputHook }),
    ...remove.map((name) => `-X ${name}`),
    'COMMIT',
    '',
  ].join('\n');
  return { write, remove, hook, inputHook, text };
}

/**
 * The families a lab's Felix programs: IPv4, and IPv6 too on a dual-stack lab (every pod and node has an IPv6
 * address there).
 */
export function felixFamilies(plan: LabPlan): (4 | 6)[] {
  const dual = plan.pods.length > 0 && plan.pods.every((p) => p.ipv6) && plan.nodes.every((n) => n.ipv6);
  return dual ? [4, 6] : [4];
}

/**
 * The node's VXLAN allowlist as Felix keeps it (vxlan_mgr.go: every VTEP's parent address, which is the Calico Node's
 * address — the projectcalico.org/IPv4Address the lab serves — or the node IP; for IPv6, each node's IPv6 address,
 * the parent of vxlan-v6.calico): null when the pool is not VXLAN, or the lab has no VXLAN over that family.
 */
export function felixVxlanAllowlist(
  plan: LabPlan,
  family: 4 | 6 = 4,
): { set: string; port: number; members: string[] } | null {
  if (plan.overlay !== 'vxlan') return null;
  if (family === 6 && !plan.nodes.every((n) => n.ipv6 && n.tunnelIPv6)) return null;
  return {
    set: felixIpsetName(FELIX_TUNNEL_SETS.vxlan, family),
    port: CALICO_VXLAN.port,
    members: plan.nodes.map((n) => (family === 6 ? n.ipv6! : (n.calicoIPv4Address ?? n.ip)).split('/')[0]!),
  };
}

/**
 * Calico's workload view of the lab's pods, with their addresses of `family` (pods without one are left out of that
 * family's table): every lab pod runs as service account "default" (api-server/objects.ts).
 */
export function felixWorkloads(
  plan: LabPlan,
  family: 4 | 6 = 4,
): {
  workloads: FelixWorkload[];
  namespaces: Record<string, Record<string, string>>;
} {
  const workloads = plan.pods.flatMap((p) => {
    const ip = family === 6 ? p.ipv6 : p.ip;
    if (ip === undefined) return [];
    return [
      {
        kind: 'pod' as const,
        name: p.name,
        namespace: p.namespace,
        ip,
        labels: p.labels,
        serviceAccount: 'default',
        node: p.node,
        caliInterface: p.caliInterface,
        containerPorts: p.containers.flatMap((c) =>
          c.ports.map((port): ContainerPort => ({
            port,
            protocol: 'TCP',
            ...(c.namedPorts?.find((n) => n.port === port)
              ? { name: c.namedPorts.find((n) => n.port === port)!.name }
              : {}),
          })),
        ),
      },
    ];
  });
  const namespaces: Record<string, Record<string, string>> = {};
  for (const p of plan.pods) namespaces[p.namespace] ??= {};
  for (const n of plan.namespaces ?? []) namespaces[n.name] = n.labels;
  return { workloads, namespaces };
}
