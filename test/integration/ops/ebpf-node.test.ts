/**
 * A node that shows Calico's eBPF dataplane (the bpfin.cali / bpfout.cali veth pair Felix creates) is told apart by
 * `nodeport` and `trace` over real SSH: the kube-proxy rule walk and the programmed-policy check are skipped there
 * with a plain finding, the other node is judged as before. The pair is made inside the lab node's own namespace
 * (no traffic: the devices carry none); this kernel runs no BPF dataplane, so nothing else of eBPF mode is played.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LabState } from '../../../src/lab/state.ts';
import { runNodePort } from '../../../src/ops/service-ops.ts';
import { runTrace } from '../../../src/ops/trace.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { inNetns, run, startLab, stopLab, TOPOLOGIES } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';

const LAB = 'itebpf';
let lab: LabState;
let deps: OperationDeps & { close(): Promise<void> };
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
const off = { enabled: false, seconds: 1 };

beforeAll(async () => {
  lab = await startLab(LAB, TOPOLOGIES.default);
  deps = await labDeps(LAB);
}, 180_000);
afterAll(async () => {
  await deps?.close();
  await stopLab(LAB);
}, 60_000);

describe('a node in eBPF mode on the lab', () => {
  it('nodeport and trace skip the rule checks there, say what to run instead, and judge the other node as before', async () => {
    const before = (await runNodePort(deps, { port: 31080, capture: off }, ctx())).result;
    expect(before.findings.map((f) => f.code)).not.toContain('calico_ebpf_node');
    expect(before.findings.map((f) => f.code)).toContain('rules_present');

    const node1 = lab.plan.nodes.find((n) => n.name === 'k8s-node1')!;
    const add = await run(
      inNetns(node1.netns, ['ip', 'link', 'add', 'bpfin.cali', 'type', 'veth', 'peer', 'name', 'bpfout.cali']),
      10_000,
    );
    expect(add.code).toBe(0);

    const after = (await runNodePort(deps, { port: 31080, capture: off }, ctx())).result;
    const ebpf = after.findings.filter((f) => f.code === 'calico_ebpf_node');
    expect(ebpf.map((f) => f.message.split(' ')[0])).toEqual(['k8s-node1']);
    expect(ebpf[0]!.message).toContain('calico-node -bpf nat dump');
    expect(after.findings.filter((f) => f.severity === 'error')).toEqual([]);
    // k8s-node2 is still walked: its rules forward to pod-dest.
    expect(after.nodes.find((n) => n.name === 'k8s-node2')!.dnatTargets.length).toBeGreaterThan(0);
    // Each node's Calico dataplane, as its devices and tables show it.
    expect(after.nodes.map((n) => [n.name, n.calicoDataplane])).toEqual([
      ['k8s-node1', 'ebpf'],
      ['k8s-node2', 'iptables'],
    ]);

    const trace = (
      await runTrace(deps, { namespace: 'default', src: 'pod-src', dst: 'pod-dest', port: 8080, capture: off }, ctx())
    ).result;
    const codes = trace.findings.map((f) => f.code);
    expect(trace.findings.filter((f) => f.code === 'calico_ebpf_node').map((f) => f.message.split(' ')[0])).toEqual([
      'k8s-node1',
    ]);
    expect(codes).not.toContain('workload_chain_missing');
    expect([trace.src.node, trace.src.calicoDataplane, trace.dst.node, trace.dst.calicoDataplane]).toEqual([
      'k8s-node2',
      'iptables',
      'k8s-node1',
      'ebpf',
    ]);
    expect(codes).not.toContain('policy_not_programmed');
  }, 120_000);
});
