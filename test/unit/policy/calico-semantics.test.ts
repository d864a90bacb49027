/**
 * Calico's documented policy semantics: order (lower first, none = last, ties by name), Allow/Deny decide,
 * Log continues, Pass skips the rest of the tier, a selected endpoint with no matching rule is denied at the
 * end of the tier, an endpoint no policy selects is allowed by its namespace profile.
 * Source: https://docs.tigera.io/calico/latest/network-policy/policy-tiers/tiered-policy ("How policy is
 * processed") and https://docs.tigera.io/calico/latest/reference/resources/networkpolicy (Rule actions, order);
 * the Types defaulting from github.com/projectcalico/calico api/pkg/apis/projectcalico/v3/networkpolicy.go.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import {
  evaluateConnection,
  normalizePolicies,
  policiesForEndpoint,
  type PodEndpoint,
} from '../../../src/policy/index.ts';
import { namespaces, netpol, pod } from './netpol-model.ts';

const fixture = (name: string): unknown => {
  const text = readFileSync(new URL(`fixtures/${name}`, import.meta.url), 'utf8');
  return name.endsWith('.json') ? JSON.parse(text) : parse(text);
};

const gnp = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name },
  spec,
});
const cnp = (name: string, namespace: string, spec: Record<string, unknown>) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'NetworkPolicy',
  metadata: { name, namespace },
  spec,
});

function run(
  raw: unknown[],
  src: PodEndpoint | { kind: 'external'; ip: string } = pod('y/b'),
  dst: PodEndpoint = pod('x/a'),
  port = 80,
  extra: Partial<Parameters<typeof evaluateConnection>[0]> = {},
) {
  const { policies, notEvaluated } = normalizePolicies(raw);
  return evaluateConnection({ src, dst, namespaces, port, protocol: 'TCP', policies, notEvaluated, ...extra });
}

describe('Calico policy semantics', () => {
  it('a lower order Deny wins over a higher order Allow', () => {
    const v = run([
      gnp('allow-all', { order: 200, selector: 'all()', ingress: [{ action: 'Allow' }] }),
      gnp('deny-80', {
        order: 100,
        selector: "pod == 'a'",
        ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [80] } }],
      }),
    ]);
    expect(v.ingress.verdict).toBe('deny');
    expect(v.ingress.decidedBy).toMatchObject({
      kind: 'GlobalNetworkPolicy',
      name: 'deny-80',
      ruleIndex: 0,
      action: 'Deny',
    });
    expect(v.allowed).toBe(false);
  });

  it('a policy without order comes after every ordered one, including Kubernetes policies at 1000', () => {
    const v = run([
      gnp('deny-unordered', { selector: 'all()', ingress: [{ action: 'Deny' }] }),
      netpol('allow-all', 'x', { podSelector: {}, ingress: [{}] }),
    ]);
    expect(v.ingress.verdict).toBe('allow');
    expect(v.ingress.considered.map((p) => p.name)).toEqual(['allow-all']);
  });

  it('equal orders are applied by name', () => {
    const v = run([
      gnp('b-deny', { order: 10, selector: 'all()', ingress: [{ action: 'Deny' }] }),
      gnp('a-allow', { order: 10, selector: 'all()', ingress: [{ action: 'Allow' }] }),
    ]);
    expect(v.ingress.decidedBy?.name).toBe('a-allow');
  });

  it('Log records the match and evaluation goes on to the next rule', () => {
    const v = run([
      gnp('log-then-deny', { order: 1, selector: 'all()', ingress: [{ action: 'Log' }, { action: 'Deny' }] }),
    ]);
    expect(v.ingress.logged).toEqual([{ name: 'GlobalNetworkPolicy log-then-deny', ruleIndex: 0 }]);
    expect(v.ingress.decidedBy?.ruleIndex).toBe(1);
    expect(v.ingress.verdict).toBe('deny');
  });

  it('Pass skips the rest of the default tier to the namespace profile, which allows', () => {
    const v = run([
      gnp('pass', { order: 1, selector: 'all()', ingress: [{ action: 'Pass' }] }),
      gnp('deny', { order: 2, selector: 'all()', ingress: [{ action: 'Deny' }] }),
    ]);
    expect(v.ingress.verdict).toBe('allow');
    expect(v.ingress.decidedBy).toMatchObject({ name: 'pass', action: 'Pass' });
    expect(v.ingress.reason).toContain('kns.x');
  });

  it('a selected endpoint with no matching rule is denied at the end of the tier', () => {
    const v = run([
      cnp('only-from-z', 'x', {
        selector: "pod == 'a'",
        ingress: [{ action: 'Allow', source: { namespaceSelector: "ns == 'z'" } }],
      }),
    ]);
    expect(v.ingress).toMatchObject({
      isolated: true,
      verdict: 'deny',
      decidedBy: { ruleIndex: null, action: 'Deny (end of tier)' },
    });
    expect(v.ingress.reason).toBe(
      'denied: Calico NetworkPolicy x/only-from-z selects a and no ingress rule allows b to port 80/TCP',
    );
  });

  it('an endpoint no policy selects is allowed by its namespace profile', () => {
    const v = run([]);
    expect(v.ingress).toMatchObject({
      isolated: false,
      verdict: 'allow',
      decidedBy: { kind: 'profile', name: 'kns.x' },
    });
    expect(v.allowed).toBe(true);
  });

  it('types default to Egress only when a Calico policy has egress rules and no ingress rules', () => {
    const v = run([gnp('egress-only', { selector: 'all()', egress: [{ action: 'Deny' }] })]);
    expect(v.ingress.isolated).toBe(false);
    expect(v.egress.verdict).toBe('deny');
  });

  it('rule fields: nets/notNets, notPorts, notProtocol, named ports and ipVersion', () => {
    const allowIf = (rule: Record<string, unknown>) =>
      run([gnp('p', { selector: "pod == 'a'", ingress: [{ action: 'Allow', ...rule }] })]).ingress.verdict;
    expect(allowIf({ source: { nets: ['10.0.1.0/24'] } })).toBe('allow');
    expect(allowIf({ source: { nets: ['10.0.0.0/16'], notNets: ['10.0.1.0/24'] } })).toBe('deny');
    expect(allowIf({ protocol: 'TCP', destination: { notPorts: ['1:79'] } })).toBe('allow');
    expect(allowIf({ protocol: 6, destination: { ports: ['81:90'] } })).toBe('deny');
    expect(allowIf({ notProtocol: 'TCP' })).toBe('deny');
    expect(allowIf({ protocol: 'TCP', destination: { ports: ['serve-80-tcp'] } })).toBe('allow');
    expect(allowIf({ ipVersion: 6 })).toBe('deny');
    expect(allowIf({ source: { selector: "pcns.ns == 'y' && projectcalico.org/orchestrator == 'k8s'" } })).toBe(
      'allow',
    );
    expect(allowIf({ source: { serviceAccounts: { names: ['default'] } } })).toBe('allow');
    expect(allowIf({ source: { notSelector: "pod == 'b'" } })).toBe('deny');
  });

  it('what k8snet cannot decide is unknown, never allowed', () => {
    const src = { ...pod('y/b'), serviceAccount: null };
    expect(
      run(
        [
          gnp('sa', {
            selector: "pod == 'a'",
            ingress: [{ action: 'Allow', source: { serviceAccounts: { names: ['web'] } } }],
          }),
        ],
        src,
      ).ingress.verdict,
    ).toBe('unknown');
    expect(
      run([
        gnp('sa-labels', {
          selector: "pod == 'a'",
          ingress: [{ action: 'Deny', source: { serviceAccounts: { selector: "team == 'x'" } } }, { action: 'Allow' }],
        }),
      ]).ingress.verdict,
    ).toBe('unknown');
    expect(
      run([gnp('http', { selector: "pod == 'a'", ingress: [{ action: 'Allow', http: { methods: ['GET'] } }] })]).ingress
        .verdict,
    ).toBe('unknown');
    expect(
      run([
        gnp('src-ports', {
          selector: "pod == 'a'",
          ingress: [{ action: 'Deny', protocol: 'TCP', source: { ports: [1234] } }],
        }),
      ]).ingress.verdict,
    ).toBe('unknown');
    const ext = { kind: 'external' as const, ip: '203.0.113.9' };
    expect(
      run(
        [
          gnp('netset', {
            selector: "pod == 'a'",
            ingress: [{ action: 'Deny', source: { selector: "role == 'bad'" } }, { action: 'Allow' }],
          }),
        ],
        ext,
      ).ingress.verdict,
    ).toBe('unknown');
    const sets = [{ name: 'bad-ips', namespace: null, labels: { role: 'bad' }, nets: ['203.0.113.0/24'] }];
    expect(
      run(
        [
          gnp('netset', {
            selector: "pod == 'a'",
            ingress: [{ action: 'Deny', source: { selector: "role == 'bad'" } }, { action: 'Allow' }],
          }),
        ],
        ext,
        pod('x/a'),
        80,
        { networkSets: sets },
      ).ingress.verdict,
    ).toBe('deny');
  });

  it('an ICMP rule does not match TCP, so it is decidable', () => {
    const v = run([
      gnp('icmp', { selector: "pod == 'a'", ingress: [{ action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } }] }),
    ]);
    expect(v.ingress.verdict).toBe('deny');
  });

  it('crd-stored default-tier names lose their prefix; other tiers and AdminNetworkPolicy are kept as not evaluated', () => {
    const { policies, notEvaluated } = normalizePolicies(fixture('calico-tiers.yaml') as unknown[]);
    expect(policies.map((p) => p.name)).toEqual(['allow-dns']);
    expect(policies[0]!.notes[0]).toContain('default.allow-dns');
    expect(notEvaluated.map((p) => [p.kind, p.name])).toEqual([
      ['GlobalNetworkPolicy', 'block-egress'],
      ['AdminNetworkPolicy', 'cluster-control'],
    ]);
    expect(notEvaluated[0]!.reason).toContain('tier "security"');
    const v = run(fixture('calico-tiers.yaml') as unknown[]);
    expect(v.egress.caveats.length).toBe(2);
  });
});

describe('hostile and malformed policies', () => {
  const raw = fixture('hostile.json') as unknown[];
  const { policies, problems } = normalizePolicies(raw);

  it('every malformed object is named in a problem saying what is wrong', () => {
    const text = problems.map((p) => `${p.object}: ${p.message}`).join('\n');
    expect(text).toContain('NetworkPolicy x/bad-cidr');
    expect(text).toContain('not a valid CIDR');
    expect(text).toContain('x/bad-selector');
    expect(text).toContain('a label value must be a string');
    expect(text).toContain('GlobalNetworkPolicy bad-calico-selector');
    expect(text).toContain('"Near" is not one of In, NotIn, Exists, DoesNotExist');
    expect(text).toContain('item 4: is not an API object');
    expect(text).toContain('ConfigMap');
  });

  // x/* are selected by the broken x policies; y/c may be selected by the unreadable GlobalNetworkPolicy.
  it.each(['x/a', 'x/b', 'y/c'])('a verdict they could affect is unknown, never allowed (to %s)', (to) => {
    const v = evaluateConnection({ src: pod('z/a'), dst: pod(to), namespaces, port: 80, protocol: 'TCP', policies });
    expect(v.allowed).toBe('unknown');
    expect(v.ingress.verdict).toBe('unknown');
  });

  it('a broken policy in another namespace does not touch pods elsewhere', () => {
    const onlyX = policies.filter((p) => p.namespace === 'x');
    expect(
      evaluateConnection({ src: pod('z/a'), dst: pod('y/c'), namespaces, port: 80, protocol: 'TCP', policies: onlyX })
        .allowed,
    ).toBe(true);
  });

  it('a bad endpoint IP is unknown', () => {
    const v = evaluateConnection({
      src: { kind: 'external', ip: '1.2.3' },
      dst: pod('x/a'),
      namespaces,
      port: 80,
      protocol: 'TCP',
      policies: [],
    });
    expect(v.allowed).toBe('unknown');
  });
});

describe('policiesForEndpoint', () => {
  it('lists the policies selecting a pod in evaluation order, one line per rule', () => {
    const { policies, notEvaluated } = normalizePolicies([
      netpol('allow-frontend', 'x', {
        podSelector: { matchLabels: { pod: 'a' } },
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { app: 'frontend' } }, namespaceSelector: { matchLabels: { ns: 'shop' } } },
            ],
            ports: [{ port: 8080 }],
          },
        ],
      }),
      gnp('deny-10', {
        order: 5,
        selector: 'all()',
        ingress: [{ action: 'Deny', source: { nets: ['10.0.0.0/8'], notNets: ['10.1.0.0/16'] } }, { action: 'Pass' }],
      }),
      ...(fixture('calico-tiers.yaml') as unknown[]),
    ]);
    const out = policiesForEndpoint(pod('x/a'), namespaces, policies, notEvaluated);
    expect(out.ingress.map((p) => p.label)).toEqual(['GlobalNetworkPolicy deny-10', 'x/allow-frontend']);
    expect(out.ingress[0]!.rules).toEqual(['1. deny from 10.0.0.0/8 not 10.1.0.0/16', '2. pass everything']);
    expect(out.ingress[1]!.rules).toEqual(['1. allow TCP port 8080 from pods app=frontend in namespaces ns=shop']);
    expect(out.egress.map((p) => p.name)).toEqual(['allow-dns']);
    expect(out.notEvaluated).toHaveLength(2);
  });
});
