import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../../../src/lab/topology.ts';
import { planLab, type LabPlan } from '../../../src/lab/plan.ts';
import { normalizePolicies } from '../../../src/policy/index.ts';
import {
  felixFamilies,
  felixVxlanAllowlist,
  felixWorkloads,
  planApply,
  renderFelixFilter,
  restoreText,
  type FelixRendering,
} from '../../../src/lab/felix-rules.ts';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import { policyProgrammed, tunnelAllowlists, walkFelixChains } from '../../../src/calico/felix-chains.ts';
import { policyChainName } from '../../../src/calico/felix-names.ts';
import {
  ALLOW_OTHER_NAMED_PORT,
  DENY_EGRESS_DEFAULT,
  GNP_DENY_SRC,
  PASS_OTHER,
  allowPoolExcept,
} from '../../support/felix-policies.ts';

const POLICY_TOPOLOGY = fileURLToPath(new URL('../../../src/lab/topologies/policy.yaml', import.meta.url));
const topology = await loadTopology(POLICY_TOPOLOGY);
const plan: LabPlan = planLab(topology, { lab: 'rcunit', nodeSubnet: '10.254.77.0/24' });
const TOPOLOGY_POLICIES = topology.policyDocuments.map((d) => d.object);
const pod = (name: string) => plan.pods.find((p) => p.name === name)!;

function render(node: string, objects: readonly unknown[]): FelixRendering {
  const { policies, problems } = normalizePolicies(objects);
  expect(problems).toEqual([]);
  return renderFelixFilter({ node, ...felixWorkloads(plan), policies });
}

/** A chain's rules without the cali: ids, which only hash what is already pinned. */
function rules(r: FelixRendering, chain: string): string[] {
  const c = r.chains.find((x) => x.name === chain);
  if (!c) throw new Error(`no chain ${chain} in ${r.chains.map((x) => x.name).join(', ')}`);
  return c.rules.map((line) => line.replace(/ -m comment --comment "cali:[A-Za-z0-9_-]{16}"/, ''));
}

/** The rendering as iptables-save would list it (the FORWARD hook appended, not inserted). */
function asSave(r: FelixRendering) {
  const text = restoreText(r, { hook: false }).replace('COMMIT', `:FORWARD ACCEPT [0:0]\n${r.forwardHook}\nCOMMIT`);
  return parseIptablesSave(text).tables.get('filter')!;
}

const knp = (namespace: string, name: string) => ({ kind: 'KubernetesNetworkPolicy' as const, namespace, name });
const tw = (name: string) => `cali-tw-${pod(name).caliInterface}`;
const fw = (name: string) => `cali-fw-${pod(name).caliInterface}`;

describe("the lab Felix's VXLAN allowlist (static.go's cali-INPUT)", () => {
  const allowlist = felixVxlanAllowlist(plan)!;
  const withAllowlist = renderFelixFilter({
    node: 'k8s-node1',
    ...felixWorkloads(plan),
    policies: [],
    vxlanAllowlist: { set: allowlist.set, port: allowlist.port },
  });

  it("holds every node's address, Calico's own where the topology gives the node one", () => {
    expect(allowlist).toEqual({
      set: 'cali40all-vxlan-net',
      port: 4789,
      members: plan.nodes.map((n) => n.ip),
    });
    const wrong = {
      ...plan,
      nodes: plan.nodes.map((n, i) => (i === 1 ? { ...n, calicoIPv4Address: '10.254.77.99/24' } : n)),
    };
    expect(felixVxlanAllowlist(wrong)!.members[1]).toBe('10.254.77.99');
    expect(felixVxlanAllowlist({ ...plan, overlay: 'none' })).toBeNull();
  });

  it('accepts VXLAN from the set and drops the rest, hooked from INPUT, and reads back as the allowlist', () => {
    expect(rules(withAllowlist, 'cali-INPUT')).toEqual([
      '-A cali-INPUT -m comment --comment "Allow IPv4 VXLAN packets from allowed hosts" -p udp -m multiport --dports 4789 -m set --match-set cali40all-vxlan-net src -m addrtype --dst-type LOCAL -j ACCEPT',
      '-A cali-INPUT -m comment --comment "Drop IPv4 VXLAN packets from non-allowed hosts" -p udp -m multiport --dports 4789 -m addrtype --dst-type LOCAL -j DROP',
    ]);
    expect(withAllowlist.inputHook).toMatch(/^-A INPUT -m comment --comment "cali:[\w-]{16}" -j cali-INPUT$/);
    expect(tunnelAllowlists(asSave(withAllowlist))).toMatchObject([{ tunnel: 'vxlan', set: 'cali40all-vxlan-net' }]);
    const first = planApply(withAllowlist, { chains: new Map(), hooked: true });
    expect(first).toMatchObject({ hook: false, inputHook: true });
    expect(first.text).toContain(`\n${withAllowlist.inputHook!.replace('-A INPUT ', '-I INPUT 1 ')}\n`);
    // Without VXLAN there is no cali-INPUT and nothing to hook.
    const none = render('k8s-node1', []);
    expect([none.inputHook, none.chains.some((c) => c.name === 'cali-INPUT')]).toEqual([null, false]);
  });
});

describe('the lab Felix renderer', () => {
  it('hooks FORWARD into cali-FORWARD and dispatches each local workload interface to its chains', () => {
    const r = render('k8s-node1', TOPOLOGY_POLICIES);
    expect(r.forwardHook).toMatch(/^-A FORWARD -m comment --comment "cali:[A-Za-z0-9_-]{16}" -j cali-FORWARD$/);
    expect(rules(r, 'cali-FORWARD')).toEqual([
      '-A cali-FORWARD -j MARK --set-xmark 0x0/0xe0000',
      '-A cali-FORWARD -i cali+ -j cali-from-wl-dispatch',
      '-A cali-FORWARD -o cali+ -j cali-to-wl-dispatch',
    ]);
    const ifaces = [pod('pod-dest').caliInterface, pod('pod-pause').caliInterface].sort();
    expect(rules(r, 'cali-to-wl-dispatch')).toEqual([
      ...ifaces.map((i) => `-A cali-to-wl-dispatch -o ${i} -g cali-tw-${i}`),
      '-A cali-to-wl-dispatch -m comment --comment "Unknown interface" -j DROP',
    ]);
  });

  it("writes pod-dest's ingress chain as Felix does: conntrack, policies in order with returns, the no-policy drop, then the profile", () => {
    const r = render('k8s-node1', TOPOLOGY_POLICIES);
    const allow = policyChainName('ingress', knp('payments', 'allow-pod-src-to-dest'), 'name');
    const deny = policyChainName('ingress', knp('payments', 'default-deny-ingress'), 'name');
    const c = tw('pod-dest');
    expect(rules(r, c)).toEqual([
      `-A ${c} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
      `-A ${c} -m conntrack --ctstate INVALID -j DROP`,
      `-A ${c} -j MARK --set-xmark 0x0/0x10000`,
      `-A ${c} -m comment --comment "Start of policies" -j MARK --set-xmark 0x0/0x20000`,
      `-A ${c} -m mark --mark 0x0/0x20000 -j ${allow}`,
      `-A ${c} -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN`,
      `-A ${c} -m mark --mark 0x0/0x20000 -j ${deny}`,
      `-A ${c} -m comment --comment "Return if policy accepted" -m mark --mark 0x10000/0x10000 -j RETURN`,
      `-A ${c} -m comment --comment "Drop if no policies passed packet" -m mark --mark 0x0/0x20000 -j DROP`,
      `-A ${c} -j cali-pri-kns.payments`,
      `-A ${c} -m comment --comment "Return if profile accepted" -m mark --mark 0x10000/0x10000 -j RETURN`,
      `-A ${c} -m comment --comment "Drop if no profiles matched" -j DROP`,
    ]);
    expect(rules(r, allow)).toEqual([
      `-A ${allow} -m comment --comment "Policy payments/knp.default.allow-pod-src-to-dest ingress" -p tcp -s ${pod('pod-src').ip}/32 -m multiport --dports 80 -j MARK --set-xmark 0x10000/0x10000`,
      `-A ${allow} -m mark --mark 0x10000/0x10000 -j RETURN`,
      `-A ${allow} -p tcp -s ${pod('pod-src').ip}/32 -m multiport --dports 8080 -j MARK --set-xmark 0x10000/0x10000`,
      `-A ${allow} -m mark --mark 0x10000/0x10000 -j RETURN`,
    ]);
    // A policy with no rules: one rule carrying only the policy's comment, so nothing is accepted.
    expect(rules(r, deny)).toEqual([
      `-A ${deny} -m comment --comment "Policy payments/knp.default.default-deny-ingress ingress"`,
    ]);
    expect(rules(r, 'cali-pri-kns.payments')).toEqual([
      '-A cali-pri-kns.payments -m comment --comment "Profile kns.payments ingress" -j MARK --set-xmark 0x10000/0x10000',
      '-A cali-pri-kns.payments -m mark --mark 0x10000/0x10000 -j RETURN',
    ]);
  });

  it("with no policy, every workload chain ends in its allowing namespace profile (nothing of today's traffic breaks)", () => {
    const r = render('k8s-node2', []);
    for (const name of ['pod-src', 'pod-other']) {
      for (const chain of [tw(name), fw(name)]) {
        const lines = rules(r, chain);
        expect(lines.join('\n')).not.toMatch(/cali-p[io]-|no policies/);
        expect(lines.at(-3)).toMatch(/-j cali-pr[io]-kns\.default$/);
      }
    }
    expect(r.chains.some((c) => c.name.startsWith('cali-pi-') || c.name.startsWith('cali-po-'))).toBe(false);
  });

  it('orders a GlobalNetworkPolicy of order 10 before the Kubernetes policies (order 1000) and renders its Deny as DROP', () => {
    const r = render('k8s-node1', [...TOPOLOGY_POLICIES, GNP_DENY_SRC]);
    const gnp = policyChainName('ingress', { kind: 'GlobalNetworkPolicy', name: 'deny-src-to-dest' }, 'name');
    const jumps = rules(r, tw('pod-dest'))
      .filter((l) => / -j cali-pi-/.test(l))
      .map((l) => l.split(' -j ')[1]);
    expect(jumps[0]).toBe(gnp);
    expect(jumps).toHaveLength(3);
    expect(rules(r, gnp)).toEqual([
      `-A ${gnp} -m comment --comment "Policy default.deny-src-to-dest ingress" -p tcp -s ${pod('pod-src').ip}/32 -m multiport --dports 80 -j DROP`,
    ]);
  });

  it('renders Pass as the pass mark and a return, so the later Kubernetes policies are skipped for the profile', () => {
    const r = render('k8s-node1', [...TOPOLOGY_POLICIES, PASS_OTHER]);
    const pass = policyChainName(
      'ingress',
      { kind: 'NetworkPolicy', namespace: 'payments', name: 'pass-other' },
      'name',
    );
    expect(rules(r, pass)).toEqual([
      `-A ${pass} -m comment --comment "Policy payments/default.pass-other ingress" -s ${pod('pod-other').ip}/32 -j MARK --set-xmark 0x20000/0x20000`,
      `-A ${pass} -m mark --mark 0x20000/0x20000 -j RETURN`,
    ]);
    expect(rules(r, tw('pod-dest')).filter((l) => / -j cali-pi-/.test(l))[0]).toContain(
      `-m mark --mark 0x0/0x20000 -j ${pass}`,
    );
  });

  it("puts an egress default-deny on the source pods' from-workload chains", () => {
    const r = render('k8s-node2', [DENY_EGRESS_DEFAULT]);
    const po = policyChainName('egress', knp('default', 'default-deny-egress'), 'name');
    for (const name of ['pod-src', 'pod-other']) {
      expect(rules(r, fw(name))).toContain(`-A ${fw(name)} -m mark --mark 0x0/0x20000 -j ${po}`);
      expect(rules(r, tw(name)).join('\n')).not.toContain('cali-pi-');
    }
    expect(rules(r, po)).toEqual([
      `-A ${po} -m comment --comment "Policy default/knp.default.default-deny-egress egress"`,
    ]);
  });

  it("resolves a named port against the lab pods' container ports, address by address", () => {
    const r = render('k8s-node1', [ALLOW_OTHER_NAMED_PORT]);
    const c = policyChainName('ingress', knp('payments', 'allow-other-http'), 'name');
    expect(rules(r, c)[0]).toBe(
      `-A ${c} -m comment --comment "Policy payments/knp.default.allow-other-http ingress" -p tcp -s ${pod('pod-other').ip}/32 -d ${pod('pod-dest').ip}/32 -m multiport --dports 80 -j MARK --set-xmark 0x10000/0x10000`,
    );
  });

  it('writes a lone notNets inline, and an ipBlock with excepts (two -s would clash) through the scratch mark', () => {
    const lone = render('k8s-node1', [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'not-node2' },
        spec: { selector: "type == 'dest'", ingress: [{ action: 'Allow', source: { notNets: ['10.244.0.64/26'] } }] },
      },
    ]);
    const g = policyChainName('ingress', { kind: 'GlobalNetworkPolicy', name: 'not-node2' }, 'name');
    expect(rules(lone, g)).toEqual([
      `-A ${g} -m comment --comment "Policy default.not-node2 ingress" ! -s 10.244.0.64/26 -j MARK --set-xmark 0x10000/0x10000`,
      `-A ${g} -m mark --mark 0x10000/0x10000 -j RETURN`,
    ]);
    const two = render('k8s-node1', [allowPoolExcept(['10.244.0.64/27', '10.244.0.96/27'])]);
    const c = policyChainName('ingress', knp('payments', 'allow-pool-except'), 'name');
    expect(rules(two, c)).toEqual([
      `-A ${c} -m comment --comment "Policy payments/knp.default.allow-pool-except ingress" -j MARK --set-xmark 0x0/0x40000`,
      `-A ${c} -s 10.244.0.0/16 -j MARK --set-xmark 0x40000/0x40000`,
      `-A ${c} -m mark --mark 0x40000/0x40000 -s 10.244.0.64/27 -j MARK --set-xmark 0x0/0x40000`,
      `-A ${c} -m mark --mark 0x40000/0x40000 -s 10.244.0.96/27 -j MARK --set-xmark 0x0/0x40000`,
      `-A ${c} -m mark --mark 0x40000/0x40000 -j MARK --set-xmark 0x10000/0x10000`,
      `-A ${c} -m mark --mark 0x10000/0x10000 -j RETURN`,
    ]);
  });

  it('splits more than 15 ports into several multiport rules (a range counts twice)', () => {
    const ports = Array.from({ length: 20 }, (_, i) => 1000 + i);
    const r = render('k8s-node1', [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'many-ports' },
        spec: { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports } }] },
      },
    ]);
    const c = policyChainName('ingress', { kind: 'GlobalNetworkPolicy', name: 'many-ports' }, 'name');
    const multiport = rules(r, c).filter((l) => l.includes('--dports'));
    expect(multiport.map((l) => l.split('--dports ')[1]!.split(' ')[0]!.split(',').length)).toEqual([15, 5]);
  });

  it('renders Log as a rate-limited LOG that goes on to the next rule', () => {
    const r = render('k8s-node1', [
      {
        apiVersion: 'projectcalico.org/v3',
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'log-all' },
        spec: { selector: 'all()', ingress: [{ action: 'Log' }, { action: 'Allow' }] },
      },
    ]);
    const c = policyChainName('ingress', { kind: 'GlobalNetworkPolicy', name: 'log-all' }, 'name');
    expect(rules(r, c)).toEqual([
      `-A ${c} -m comment --comment "Policy default.log-all ingress" -m limit --limit 10/sec --limit-burst 20 -j LOG --log-prefix "calico-packet: " --log-level 5`,
      `-A ${c} -j MARK --set-xmark 0x10000/0x10000`,
      `-A ${c} -m mark --mark 0x10000/0x10000 -j RETURN`,
    ]);
  });

  it('names every chain so that the Felix chain walk finds each policy that selects each workload on each node', () => {
    const objects = [
      ...TOPOLOGY_POLICIES,
      GNP_DENY_SRC,
      PASS_OTHER,
      DENY_EGRESS_DEFAULT,
      ALLOW_OTHER_NAMED_PORT,
      allowPoolExcept(['10.244.0.64/27', '10.244.0.96/27']),
    ];
    const expected: Record<
      string,
      {
        direction: 'ingress' | 'egress';
        query: Parameters<typeof policyProgrammed>[1]['kind'];
        namespace?: string;
        name: string;
      }[]
    > = {
      'pod-dest': [
        { direction: 'ingress', query: 'GlobalNetworkPolicy', name: 'deny-src-to-dest' },
        { direction: 'ingress', query: 'NetworkPolicy', namespace: 'payments', name: 'pass-other' },
        { direction: 'ingress', query: 'KubernetesNetworkPolicy', namespace: 'payments', name: 'allow-other-http' },
        {
          direction: 'ingress',
          query: 'KubernetesNetworkPolicy',
          namespace: 'payments',
          name: 'allow-pod-src-to-dest',
        },
        { direction: 'ingress', query: 'KubernetesNetworkPolicy', namespace: 'payments', name: 'allow-pool-except' },
        { direction: 'ingress', query: 'KubernetesNetworkPolicy', namespace: 'payments', name: 'default-deny-ingress' },
      ],
      'pod-src': [
        { direction: 'egress', query: 'KubernetesNetworkPolicy', namespace: 'default', name: 'default-deny-egress' },
      ],
      'pod-other': [
        { direction: 'egress', query: 'KubernetesNetworkPolicy', namespace: 'default', name: 'default-deny-egress' },
      ],
      'pod-pause': [
        { direction: 'egress', query: 'KubernetesNetworkPolicy', namespace: 'default', name: 'default-deny-egress' },
      ],
    };
    for (const node of plan.nodes) {
      const filter = asSave(render(node.name, objects));
      for (const p of plan.pods.filter((x) => x.node === node.name)) {
        const walk = walkFelixChains(filter, p.caliInterface);
        expect(walk.ingress.forwardEntry).not.toBeNull();
        expect(walk.ingress.dispatchEntry).not.toBeNull();
        expect(walk.egress.dispatchEntry).not.toBeNull();
        for (const e of expected[p.name]!) {
          const answer = policyProgrammed(walk, {
            direction: e.direction,
            kind: e.query,
            name: e.name,
            ...(e.namespace ? { namespace: e.namespace } : {}),
          });
          expect({ pod: p.name, ...e, programmed: answer.programmed, exists: answer.match?.chainExists }).toEqual({
            pod: p.name,
            ...e,
            programmed: true,
            exists: true,
          });
        }
        const total = walk.ingress.policies.length + walk.egress.policies.length;
        expect(total).toBe(expected[p.name]!.length);
        expect(walk.ingress.profiles.map((x) => x.profile)).toEqual([`kns.${p.namespace}`]);
        if (walk.ingress.policies.length > 0) expect(walk.ingress.noPolicyDrops).toHaveLength(1);
        expect(walk.ingress.noProfileDrop).not.toBeNull();
      }
    }
  });

  it('plans nothing for a node that already has the rendering, and only the changed chains otherwise', () => {
    const before = render('k8s-node1', TOPOLOGY_POLICIES);
    const current = { chains: new Map(before.chains.map((c) => [c.name, c.ids as (string | null)[]])), hooked: true };
    expect(planApply(before, current).text).toBeNull();
    const after = render(
      'k8s-node1',
      TOPOLOGY_POLICIES.filter((o) => (o as { metadata: { name: string } }).metadata.name !== 'default-deny-ingress'),
    );
    const plan2 = planApply(after, current);
    const deny = policyChainName('ingress', knp('payments', 'default-deny-ingress'), 'name');
    expect(plan2.write).toEqual([tw('pod-dest')]);
    expect(plan2.remove).toEqual([deny]);
    expect(plan2.text).toContain(`:${deny} - [0:0]`);
    expect(plan2.text!.trim().split('\n').slice(-2)).toEqual([`-X ${deny}`, 'COMMIT']);
    expect(planApply(after, { chains: new Map(), hooked: false }).text).toContain('-I FORWARD 1 ');
  });
});

const DUAL_TOPOLOGY = fileURLToPath(new URL('../../../src/lab/topologies/dual-stack.yaml', import.meta.url));
const dual = planLab(await loadTopology(DUAL_TOPOLOGY), { lab: 'rcsix', nodeSubnet: '10.254.78.0/24' });

describe("the lab Felix's IPv6 table on a dual-stack lab (ip6tables, the same chains)", () => {
  const dualPod = (name: string) => dual.pods.find((p) => p.name === name)!;
  const { policies, problems } = normalizePolicies([
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        podSelector: { matchLabels: { type: 'dest' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { type: 'src' } } },
              { ipBlock: { cidr: '192.0.2.0/24' } },
              { ipBlock: { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] } },
            ],
            ports: [{ port: 80, protocol: 'TCP' }],
          },
        ],
      },
    },
    {
      apiVersion: 'projectcalico.org/v3',
      kind: 'NetworkPolicy',
      metadata: { name: 'icmp', namespace: 'default' },
      spec: {
        selector: "type == 'dest'",
        types: ['Ingress'],
        ingress: [
          { action: 'Allow', protocol: 'ICMP' },
          { action: 'Allow', protocol: 'ICMPv6' },
          { action: 'Deny', ipVersion: 4, source: { nets: ['198.51.100.0/24'] } },
        ],
      },
    },
  ]);
  const renderFamily = (family: 4 | 6) =>
    renderFelixFilter({
      node: 'k8s-node1',
      ...felixWorkloads(dual, family),
      policies,
      family,
      vxlanAllowlist: felixVxlanAllowlist(dual, family)!,
    });
  const v4 = renderFamily(4);
  const v6 = renderFamily(6);
  const knpChain = policyChainName('ingress', knp('default', 'web'), 'name');
  const icmpChain = policyChainName(
    'ingress',
    { kind: 'NetworkPolicy', namespace: 'default', name: 'icmp', tier: 'default' },
    'name',
  );

  it('programs both families on a dual-stack lab and IPv4 alone elsewhere', () => {
    expect(problems).toEqual([]);
    expect(felixFamilies(dual)).toEqual([4, 6]);
    expect(felixFamilies(plan)).toEqual([4]);
    expect(felixWorkloads(plan, 6).workloads).toEqual([]);
  });

  it("allowlists VXLAN over IPv6 from the nodes' IPv6 addresses in cali60all-vxlan-net", () => {
    expect(felixVxlanAllowlist(dual, 6)).toEqual({
      set: 'cali60all-vxlan-net',
      port: 4789,
      members: dual.nodes.map((n) => n.ipv6),
    });
    expect(felixVxlanAllowlist(plan, 6)).toBeNull();
    expect(rules(v6, 'cali-INPUT')).toEqual([
      '-A cali-INPUT -m comment --comment "Allow IPv6 VXLAN packets from allowed hosts" -p udp -m multiport --dports 4789 -m set --match-set cali60all-vxlan-net src -m addrtype --dst-type LOCAL -j ACCEPT',
      '-A cali-INPUT -m comment --comment "Drop IPv6 VXLAN packets from non-allowed hosts" -p udp -m multiport --dports 4789 -m addrtype --dst-type LOCAL -j DROP',
    ]);
    expect(tunnelAllowlists(asSave(v6))).toEqual([
      expect.objectContaining({ tunnel: 'vxlan', family: 6, set: 'cali60all-vxlan-net' }),
    ]);
  });

  it("matches the pods by their IPv6 addresses (/128) and keeps each family's nets, except lists included", () => {
    const six = rules(v6, knpChain).join('\n');
    expect(six).toContain(`-p tcp -s ${dualPod('pod-src').ipv6}/128 -m multiport --dports 80`);
    expect(six).toContain('-p tcp -s 2001:db8::/32 -m multiport --dports 80');
    expect(six).toContain('-p tcp -s 2001:db8:1::/48 -j MARK --set-xmark 0x0/0x40000');
    expect(six).not.toContain('192.0.2.0/24');
    const four = rules(v4, knpChain).join('\n');
    expect(four).toContain(`-p tcp -s ${dualPod('pod-src').ip}/32 -m multiport --dports 80`);
    expect(four).toContain('-s 192.0.2.0/24');
    expect(four).not.toContain('2001:db8');
  });

  it('puts ICMP and ipVersion 4 rules in iptables only, ICMPv6 in ip6tables only', () => {
    expect(rules(v4, icmpChain).filter((r) => / -p |DROP/.test(r))).toEqual([
      `-A ${icmpChain} -m comment --comment "Policy default/default.icmp ingress" -p icmp -j MARK --set-xmark 0x10000/0x10000`,
      `-A ${icmpChain} -s 198.51.100.0/24 -j DROP`,
    ]);
    expect(rules(v6, icmpChain).filter((r) => / -p |DROP/.test(r))).toEqual([
      `-A ${icmpChain} -m comment --comment "Policy default/default.icmp ingress" -p ipv6-icmp -j MARK --set-xmark 0x10000/0x10000`,
    ]);
  });

  it('writes a workload chain for every local pod in both tables, dispatched by interface', () => {
    for (const r of [v4, v6])
      expect(r.chains.map((c) => c.name)).toEqual(
        expect.arrayContaining([
          `cali-tw-${dualPod('pod-dest').caliInterface}`,
          `cali-fw-${dualPod('pod-dest').caliInterface}`,
        ]),
      );
  });
});
