/**
 * What reading and judging network policy adds to a `trace`: the same no-capture trace on the policy lab
 * (src/lab/topologies/policy.yaml, whose default-deny and allow policies are what trace reads), side by side in one
 * process, with policy reading on and with a ClusterReader that serves no policies (the baseline: every other step,
 * the test connection and the iptables-save -c reads included, is the same).
 *
 *   node bench/trace-policy-overhead.ts [--runs 15] [--lab bpol]      (as root: it builds a lab)
 *
 * Runs alternate (with, without, with, …) after one untimed warm-up of each, so drift on a busy machine falls on both.
 * Prints the medians and the ratio; the target is ≤ 1.10.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { labUp } from '../src/lab/lab-up.ts';
import { labDown } from '../src/lab/lab-down.ts';
import { depsFromEnv, envForLab } from '../src/cli/deps.ts';
import { runTrace } from '../src/ops/trace.ts';
import type { ClusterReader } from '../src/cluster/types.ts';
import type { OperationDeps } from '../src/ops/deps.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '15' }, lab: { type: 'string', default: 'bpol' } },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 200) {
  console.error('usage: node bench/trace-policy-overhead.ts [--runs 15] [--lab bpol]');
  process.exit(2);
}
const lab = values.lab;
const topologyPath = fileURLToPath(new URL('../src/lab/topologies/policy.yaml', import.meta.url));

/** The same cluster, answering as a cluster without any network policy would. */
function withoutPolicies(cluster: ClusterReader): ClusterReader {
  return Object.assign(Object.create(cluster) as ClusterReader, {
    listPolicyObjects: async () => ({ objects: [], read: [], errors: [] }),
    listNamespaces: async () => [],
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

await labDown({ lab });
await labUp({ lab, topologyPath });
const deps = depsFromEnv(await envForLab(lab));
const baseline: OperationDeps = { ...deps, cluster: withoutPolicies(deps.cluster) };
const command = {
  namespace: 'default',
  src: 'pod-src',
  dst: 'pod-dest',
  dstNamespace: 'payments',
  capture: { enabled: false, seconds: 1 },
};
const ctx = () => ({ onStep: () => undefined, signal: AbortSignal.timeout(60_000) });
try {
  const timed = async (d: OperationDeps) => {
    const t0 = performance.now();
    const { result } = await runTrace(d, command, ctx());
    const ms = performance.now() - t0;
    if (!result.testConnection?.ok)
      throw new Error(`the test connection failed: ${result.testConnection?.detail ?? 'not made'}`);
    return { ms, judged: result.policy !== null && result.policy.verdicts.length > 0 };
  };
  await timed(deps);
  await timed(baseline);
  const withPolicy: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await timed(deps);
    if (!a.judged) throw new Error('trace did not judge the policies');
    withPolicy.push(a.ms);
    without.push((await timed(baseline)).ms);
  }
  const [m1, m0] = [median(withPolicy), median(without)];
  console.log(`no-capture trace on the policy lab, ${runs} runs each, alternating (median):`);
  console.log(`  with policy reading    ${m1.toFixed(0).padStart(6)} ms`);
  console.log(`  without (baseline)     ${m0.toFixed(0).padStart(6)} ms`);
  console.log(`  ratio                  ${(m1 / m0).toFixed(3)}  (target ≤ 1.10)`);
} finally {
  await deps.close();
  await labDown({ lab });
}
