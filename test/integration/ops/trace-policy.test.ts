/**
 * trace names the network policy that decides a connection, and proves it on the node: the policy lab
 * (src/lab/topologies/policy.yaml) enforces what the lab API server holds the way Felix does, policies are written
 * with the real kubectl, and trace's verdict, the deciding policy and rule, and the counter of the drop rule that
 * counted the test connection are checked — then the lab is changed and the next trace follows.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { LabState } from '../../../src/lab/state.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { runTrace, type TraceCommand, type TraceResult } from '../../../src/ops/trace.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { inNetns, run, startLab, stopLab, TOPOLOGIES } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';
import {
  ALLOW_OTHER_NAMED_PORT,
  DENY_EGRESS_DEFAULT,
  GNP_DENY_SRC,
  PASS_OTHER,
  allowPoolExcept,
} from '../../support/felix-policies.ts';

const LAB = 'itpol';
const KUBECTL = '/usr/bin/kubectl';
const POLICIES_DIR = join(dirname(TOPOLOGIES.policy), 'policies');
/** The reconciler programs a write within 2 s (test/integration/lab/policy-enforcement.test.ts); wait a little past it. */
const PROGRAMMED_MS = 2500;

let lab: LabState;
let deps: OperationDeps & { close(): Promise<void> };
let dir: string;
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const pod = (name: string) => lab.plan.pods.find((p) => p.name === name)!;
const problems = (r: TraceResult) => r.findings.filter((f) => f.severity === 'error');
const codes = (r: TraceResult) =>
  problems(r)
    .map((f) => f.code)
    .sort();

async function trace(src: string, port?: number, extra: Partial<TraceCommand> = {}): Promise<TraceResult> {
  const command: TraceCommand = {
    namespace: 'default',
    src,
    dst: 'pod-dest',
    dstNamespace: 'payments',
    capture: { enabled: false, seconds: 1 },
    ...(port ? { port } : {}),
    ...extra,
  };
  return (await runTrace(deps, command, ctx())).result;
}

async function kubectl(...args: string[]) {
  const r = await run(
    [KUBECTL, '--kubeconfig', labPaths(LAB).kubeconfig, '--cache-dir', join(dir, 'kube-cache'), ...args],
    30_000,
  );
  expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
}

let files = 0;
async function applied(object: object): Promise<string> {
  const path = join(dir, `policy-${files++}.yaml`);
  await writeFile(path, stringify(object));
  await kubectl('apply', '-f', path);
  await new Promise((r) => setTimeout(r, PROGRAMMED_MS));
  return path;
}
async function removed(path: string) {
  await kubectl('delete', '-f', path);
  await new Promise((r) => setTimeout(r, PROGRAMMED_MS));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'k8snet-trace-policy-'));
  lab = await startLab(LAB, TOPOLOGIES.policy);
  deps = await labDeps(LAB);
}, 180_000);
afterAll(async () => {
  await deps?.close();
  await stopLab(LAB);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('trace and network policy on the policy lab', () => {
  it('names the default-deny ingress policy and shows the workload drop rule counting the test connection', async () => {
    const r = await trace('pod-other', 80);
    expect(r.testConnection).toMatchObject({ port: 80, ok: false });
    const denied = problems(r).find((f) => f.code === 'policy_denies_ingress')!;
    expect(denied.message).toContain('payments/pod-dest:80/TCP');
    expect(denied.message).toContain('default-deny-ingress');
    expect(denied.evidence).toContain('NetworkPolicy payments/');
    const counted = problems(r).find((f) => f.code === 'policy_drop_counted')!;
    expect(counted.message).toMatch(/^k8s-node1: Calico dropped \d+ packets? of the test connection in cali-tw-/);
    expect(counted.evidence).toMatch(/^\[\+\d+\] -A cali-tw-\S+ .*Drop if no policies passed packet.* -j DROP$/);
    expect(r.counters.find((c) => c.node === 'k8s-node1')!.drops.length).toBeGreaterThan(0);
    expect(r.policy!.verdicts[0]).toMatchObject({
      port: 80,
      allowed: false,
      ingress: { isolated: true, verdict: 'deny' },
    });
  }, 60_000);

  it('says which rule allows the allowed client, and reports no problem', async () => {
    const r = await trace('pod-src');
    expect(codes(r)).toEqual([]);
    expect(r.testConnection).toMatchObject({ ok: true });
    const allowed = r.findings.find((f) => f.code === 'policy_allows')!;
    expect(allowed.message).toBe('network policy allows default/pod-src → payments/pod-dest:80/TCP,8080/TCP');
    expect(allowed.evidence).toContain('allow-pod-src-to-dest');
    expect(allowed.evidence).toMatch(/rule \d/);
  }, 60_000);

  it('follows kubectl delete of the policies: the next trace is clean', async () => {
    await kubectl('delete', '-f', POLICIES_DIR);
    await new Promise((r) => setTimeout(r, PROGRAMMED_MS));
    try {
      const r = await trace('pod-other', 80);
      expect(codes(r)).toEqual([]);
      expect(r.testConnection).toMatchObject({ ok: true });
      expect(r.policy!.verdicts[0]).toMatchObject({ allowed: true, ingress: { isolated: false } });
    } finally {
      await kubectl('apply', '-f', POLICIES_DIR);
      await new Promise((r) => setTimeout(r, PROGRAMMED_MS));
    }
  }, 60_000);

  it('names an egress default-deny on the source side, counted on the source node', async () => {
    const file = await applied(DENY_EGRESS_DEFAULT);
    try {
      const r = await trace('pod-src', 80);
      const denied = problems(r).find((f) => f.code === 'policy_denies_egress')!;
      expect(denied.message).toContain('egress from default/pod-src');
      expect(denied.evidence).toContain('default/default-deny-egress');
      expect(
        problems(r).some(
          (f) =>
            f.code === 'policy_drop_counted' && f.message.startsWith('k8s-node2: ') && f.message.includes('cali-fw-'),
        ),
      ).toBe(true);
    } finally {
      await removed(file);
    }
  }, 60_000);

  it('names a Calico GlobalNetworkPolicy Deny ordered before the Kubernetes allow', async () => {
    const file = await applied(GNP_DENY_SRC);
    try {
      const r = await trace('pod-src', 80);
      const denied = problems(r).find((f) => f.code === 'policy_denies_ingress')!;
      expect(denied.evidence).toBe(
        `GlobalNetworkPolicy deny-src-to-dest (order 10), rule 1: ${r.policy!.verdicts[0]!.ingress.decidedBy!.ruleText}`,
      );
      expect(r.testConnection).toMatchObject({ ok: false });
      // 8080 is not in the Deny: still allowed by the Kubernetes policy.
      expect((await trace('pod-src', 8080)).policy!.verdicts[0]).toMatchObject({ allowed: true });
    } finally {
      await removed(file);
    }
  }, 60_000);

  it('follows a Pass past the Kubernetes policies to the namespace profile', async () => {
    const file = await applied(PASS_OTHER);
    try {
      const r = await trace('pod-other', 80);
      expect(codes(r)).toEqual([]);
      expect(r.testConnection).toMatchObject({ ok: true });
      expect(r.policy!.verdicts[0]!.ingress.reason).toMatch(/pass/i);
    } finally {
      await removed(file);
    }
  }, 60_000);

  it("follows a Pass in an earlier tier into the Kubernetes policies, and names that tier's Deny", async () => {
    const tier = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'Tier',
      metadata: { name: 'security' },
      spec: { order: 100 },
    };
    const quarantine = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'security.quarantine' },
      spec: {
        tier: 'security',
        order: 10,
        selector: "type == 'dest'",
        types: ['Ingress'],
        ingress: [{ action: 'Pass', source: { selector: "type == 'src'" } }, { action: 'Deny' }],
      },
    };
    const tierFile = await applied(tier);
    const file = await applied(quarantine);
    try {
      // pod-src: passed on to the default tier, where the Kubernetes allow decides.
      const src = await trace('pod-src', 80);
      expect(codes(src)).toEqual([]);
      expect(src.testConnection).toMatchObject({ ok: true });
      expect(src.policy!.verdicts[0]).toMatchObject({
        allowed: true,
        ingress: { decidedBy: { name: 'allow-pod-src-to-dest', action: 'Allow' } },
      });
      // pod-other: denied in the security tier before any Kubernetes policy is looked at.
      const other = await trace('pod-other', 80);
      expect(problems(other).find((f) => f.code === 'policy_denies_ingress')!.evidence).toBe(
        'GlobalNetworkPolicy quarantine (order 10), rule 2: deny everything',
      );
      expect(other.testConnection).toMatchObject({ ok: false });
      expect(problems(other).some((f) => f.code === 'policy_drop_counted' || f.code === 'drop_rule_counted')).toBe(
        true,
      );
    } finally {
      await removed(file);
      await removed(tierFile);
    }
  }, 90_000);

  it('resolves a named port against the destination container ports', async () => {
    const file = await applied(ALLOW_OTHER_NAMED_PORT);
    try {
      expect((await trace('pod-other', 80)).policy!.verdicts[0]).toMatchObject({
        allowed: true,
        ingress: { decidedBy: { name: 'allow-other-http' } },
      });
      const other = await trace('pod-other', 8080);
      expect(other.policy!.verdicts[0]).toMatchObject({ allowed: false });
      expect(codes(other)).toContain('policy_denies_ingress');
    } finally {
      await removed(file);
    }
  }, 60_000);

  it('applies an ipBlock with except: the excepted source is denied, the rest of the block allowed', async () => {
    const file = await applied(allowPoolExcept([`${pod('pod-other').ip}/32`]));
    try {
      const r = await trace('pod-other', 80);
      expect(r.policy!.verdicts[0]).toMatchObject({ allowed: false });
      expect(problems(r).find((f) => f.code === 'policy_denies_ingress')!.message).toContain('pod-other');
      expect((await trace('pod-src', 80)).policy!.verdicts[0]).toMatchObject({ allowed: true });
    } finally {
      await removed(file);
    }
  }, 60_000);

  it('reports a policy the API holds but the node has not programmed (its chain removed by hand)', async () => {
    const node = lab.plan.nodes.find((n) => n.name === pod('pod-dest').node)!;
    const save = await run(inNetns(node.netns, ['iptables-save', '-t', 'filter']));
    const chain = `cali-tw-${pod('pod-dest').caliInterface}`;
    const jump = save.stdout
      .split('\n')
      .find((l) => l.startsWith(`-A ${chain} `) && / -j cali-pi-/.test(l) && /--mark 0x0\/0x20000/.test(l))!;
    expect(jump).toBeDefined();
    const rule = jump.replace(/^-A \S+ /, '');
    const del = await run(inNetns(node.netns, ['sh', '-c', `iptables -D ${chain} ${rule}`]));
    expect(del.code).toBe(0);
    try {
      const r = await trace('pod-src', 80);
      const missing = problems(r).find((f) => f.code === 'policy_not_programmed')!;
      expect(missing.message).toContain('has not programmed it');
      expect(missing.evidence).toContain(chain);
    } finally {
      // Any write makes the reconciler re-render every node.
      await removed(await applied(PASS_OTHER));
    }
  }, 60_000);

  it('gives "could not evaluate", never a false allow, for a malformed policy from the cluster', async () => {
    const broken = {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'broken-cidr', namespace: 'payments' },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/40' } }] }] },
    };
    const file = await applied(broken);
    try {
      // pod-other is allowed by no rule before the broken policy, which could allow it if it could be read.
      const r = await trace('pod-other', 80);
      expect(r.findings.some((f) => f.code === 'policy_unreadable' && f.message.includes('broken-cidr'))).toBe(true);
      expect(r.policy!.verdicts[0]!.allowed).toBe('unknown');
      expect(r.findings.some((f) => f.code === 'policy_not_evaluable')).toBe(true);
      expect(r.findings.some((f) => f.code === 'policy_allows')).toBe(false);
    } finally {
      await removed(file);
    }
  }, 60_000);
});
