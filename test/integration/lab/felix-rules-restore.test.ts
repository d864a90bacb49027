/**
 * The lab Felix renderer's output on a real kernel: a large rendering passes `iptables-restore --test` and loads in a
 * throw-away network namespace, and read back with iptables-save it needs no further change (the reconciler is
 * idempotent against what the kernel prints, not only against its own text).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadTopology } from '../../../src/lab/topology.ts';
import { planLab } from '../../../src/lab/plan.ts';
import { normalizePolicies } from '../../../src/policy/index.ts';
import {
  currentFilterOf,
  felixVxlanAllowlist,
  felixWorkloads,
  planApply,
  renderFelixFilter,
  restoreText,
} from '../../../src/lab/felix-rules.ts';
import { parseIptablesSave } from '../../../src/parse/iptables-save.ts';
import { inNetns, run } from '../../support/lab.ts';
import {
  ALLOW_OTHER_NAMED_PORT,
  DENY_EGRESS_DEFAULT,
  GNP_DENY_SRC,
  PASS_OTHER,
  allowPoolExcept,
} from '../../support/felix-policies.ts';

const NETNS = `rc-restore-${process.pid}`;
const TOPOLOGY = fileURLToPath(new URL('../../../src/lab/topologies/policy.yaml', import.meta.url));
/** Enough generated policies that every shape appears many times over (ours; the lab's real ones are a handful). */
const GENERATED = 40;

function generated(i: number) {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: `gen-${i}` },
    spec: {
      order: i,
      selector: i % 2 ? "type == 'dest'" : 'all()',
      types: ['Ingress', 'Egress'],
      ingress: [
        { action: 'Log' },
        {
          action: 'Deny',
          protocol: 'UDP',
          source: { nets: ['10.0.0.0/8', '192.168.0.0/16'], notNets: ['10.1.0.0/16'] },
          destination: { ports: Array.from({ length: 18 }, (_, k) => 2000 + k * 3) },
        },
        {
          action: 'Pass',
          protocol: 'TCP',
          source: { notSelector: "type == 'src'" },
          destination: { notPorts: ['1:1023', 'http'] },
        },
        { action: 'Allow', protocol: 'SCTP', source: { selector: 'has(type)', ports: ['3000:3100'] } },
      ],
      egress: [
        {
          action: 'Allow',
          notProtocol: 'ICMP',
          destination: { nets: ['10.244.0.0/16'], notSelector: "type == 'other'" },
        },
      ],
    },
  };
}

/** iptables-restore in the throw-away namespace, fed on stdin. */
function restore(args: string[], input: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      'ip',
      ['netns', 'exec', NETNS, 'iptables-restore', ...args],
      { timeout: 30_000 },
      (err, _stdout, stderr) => resolve({ code: err ? 1 : 0, stderr }),
    );
    child.stdin?.end(input);
  });
}

beforeAll(async () => {
  await run(['ip', 'netns', 'delete', NETNS]);
  expect((await run(['ip', 'netns', 'add', NETNS])).code).toBe(0);
});
afterAll(async () => {
  await run(['ip', 'netns', 'delete', NETNS]);
});

describe('the lab Felix rendering on a real kernel', () => {
  it('passes iptables-restore --test, loads, and reads back as needing no change', async () => {
    const topology = await loadTopology(TOPOLOGY);
    const plan = planLab(topology, { lab: 'rcrest', nodeSubnet: '10.254.78.0/24' });
    const objects = [
      ...topology.policyDocuments.map((d) => d.object),
      GNP_DENY_SRC,
      PASS_OTHER,
      DENY_EGRESS_DEFAULT,
      ALLOW_OTHER_NAMED_PORT,
      allowPoolExcept(['10.244.0.64/27', '10.244.0.96/27']),
      ...Array.from({ length: GENERATED }, (_, i) => generated(i)),
    ];
    const { policies, problems } = normalizePolicies(objects);
    expect(problems).toEqual([]);
    // VXLAN's allowlist too: the rule matches a real ipset, which must exist before the restore.
    const allowlist = felixVxlanAllowlist(plan)!;
    expect((await run(inNetns(NETNS, ['ipset', 'create', allowlist.set, 'hash:net']))).code).toBe(0);
    const vxlanAllowlist = { set: allowlist.set, port: allowlist.port };
    const rendering = renderFelixFilter({ node: 'k8s-node1', ...felixWorkloads(plan), policies, vxlanAllowlist });
    const text = restoreText(rendering);
    expect(text.split('\n').length).toBeGreaterThan(1000);
    expect(await restore(['--noflush', '--test'], text)).toEqual({ code: 0, stderr: '' });
    expect(await restore(['--noflush'], text)).toEqual({ code: 0, stderr: '' });
    const saved = await run(inNetns(NETNS, ['iptables-save', '-t', 'filter']));
    const current = currentFilterOf(parseIptablesSave(saved.stdout).tables.get('filter'));
    expect(planApply(rendering, current)).toEqual({ write: [], remove: [], hook: false, inputHook: false, text: null });
    expect(saved.stdout).toMatch(
      /^-A cali-INPUT -p udp -m comment --comment "cali:[\w-]{16}" -m comment --comment "Drop IPv4 VXLAN packets from non-allowed hosts" -m multiport --dports 4789 -m addrtype --dst-type LOCAL -j DROP$/m,
    );
    // Without the generated policies: their chains go, the workload chains are rewritten, and the kernel accepts it.
    const smaller = renderFelixFilter({
      node: 'k8s-node1',
      ...felixWorkloads(plan),
      policies: policies.filter((p) => !p.name.startsWith('gen-')),
      vxlanAllowlist,
    });
    const diff = planApply(smaller, current);
    expect(diff.remove.length).toBeGreaterThanOrEqual(GENERATED);
    expect(await restore(['--noflush'], diff.text!)).toEqual({ code: 0, stderr: '' });
    const after = currentFilterOf(
      parseIptablesSave((await run(inNetns(NETNS, ['iptables-save', '-t', 'filter']))).stdout).tables.get('filter'),
    );
    expect(planApply(smaller, after).text).toBeNull();
  });
});
