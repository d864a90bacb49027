/**
 * How the time of one `report` (the scheduled health report) grows with the number of nodes.
 *
 *   node bench/report-scale.ts [--nodes 2,4,6,10,12] [--runs 5]      (as root: it builds labs)
 *
 * For each node count it writes a topology like src/lab/topologies/ten-node.yaml (one listener pod per node, one
 * NodePort Service over all of them) into a temp dir, builds the lab ("rsN"), and runs the report operation against
 * it in this process with the real dependencies a worker has (the lab's API server over HTTPS, SSH to every node's
 * sshd): once cold (new SSH connections, as a worker's first job) and `--runs` times warm (pooled connections, as
 * every later scheduled tick). Every run must see every node reachable and no problem, or the bench stops. Labs are
 * taken down after their runs, also on failure. Prints one row per node count with the ratio to the 2-node time.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { labUp } from '../src/lab/lab-up.ts';
import { labDown } from '../src/lab/lab-down.ts';
import { depsFromEnv, envForLab } from '../src/cli/deps.ts';
import { runHealthReport } from '../src/ops/health-report.ts';
import { NODE_CONCURRENCY } from '../src/ops/service-ops.ts';

const { values } = parseArgs({
  options: { nodes: { type: 'string', default: '2,4,6,10,12' }, runs: { type: 'string', default: '5' } },
});
const counts = values.nodes.split(',').map(Number);
const runs = Number(values.runs);
if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 99) || !Number.isInteger(runs) || runs < 1) {
  console.error('usage: node bench/report-scale.ts [--nodes 2,4,6,10,12] [--runs 5]');
  process.exit(2);
}

function topology(nodes: number): string {
  const name = (i: number) => String(i).padStart(2, '0');
  const lines = ['nodes:', ...Array.from({ length: nodes }, (_, i) => `  - name: node-${name(i + 1)}`)];
  lines.push(
    'ipPools:',
    '  - { name: default-ipv4-ippool, cidr: 10.244.0.0/16, blockSize: 26, vxlanMode: Always, ipipMode: Never, natOutgoing: true }',
    'serviceCIDR: 10.96.0.0/16',
    'pods:',
  );
  for (let i = 1; i <= nodes; i++)
    lines.push(
      `  - { name: web-${name(i)}, node: node-${name(i)}, labels: { app: web }, containers: [{ name: web, ports: [8080] }] }`,
    );
  lines.push(
    'services:',
    '  - { name: web, type: NodePort, selector: { app: web }, ports: [{ name: http, port: 8080, targetPort: 8080, nodePort: 30090 }] }',
  );
  return `${lines.join('\n')}\n`;
}

interface Row {
  nodes: number;
  coldMs: number;
  warmMs: number[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(nodes: number, dir: string): Promise<Row> {
  const lab = `rs${nodes}`;
  const topologyPath = join(dir, `${nodes}-nodes.yaml`);
  writeFileSync(topologyPath, topology(nodes));
  await labDown({ lab });
  await labUp({ lab, topologyPath });
  const deps = depsFromEnv(await envForLab(lab));
  try {
    const once = async () => {
      const t0 = performance.now();
      const { result } = await runHealthReport(deps, { onStep: () => undefined, signal: AbortSignal.timeout(120_000) });
      const ms = performance.now() - t0;
      const unreachable = result.nodes.filter((n) => !n.reachable).map((n) => `${n.name}: ${n.error}`);
      if (
        result.nodes.length !== nodes ||
        unreachable.length > 0 ||
        result.findings.some((f) => f.severity !== 'info')
      ) {
        throw new Error(
          `${nodes}-node report incomplete: ${result.nodes.length} nodes, ${[...unreachable, ...result.findings.map((f) => f.message)].join('; ')}`,
        );
      }
      return ms;
    };
    const coldMs = await once();
    const warmMs: number[] = [];
    for (let i = 0; i < runs; i++) warmMs.push(await once());
    return { nodes, coldMs, warmMs };
  } finally {
    await deps.close();
    await labDown({ lab });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'k8snet-report-scale-'));
const rows: Row[] = [];
try {
  for (const n of counts) {
    process.stderr.write(`… ${n} nodes\n`);
    rows.push(await measure(n, dir));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const base = rows[0]!;
const s = (ms: number) => (ms / 1000).toFixed(2);
console.log(`report time by node count (${runs} warm runs each; nodes inspected ${NODE_CONCURRENCY} at a time)\n`);
console.log('| nodes | cold (s) | warm median (s) | warm min–max (s) | warm ms per node | × the first row (warm) |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows) {
  const m = median(r.warmMs);
  console.log(
    `| ${r.nodes} | ${s(r.coldMs)} | ${s(m)} | ${s(Math.min(...r.warmMs))}–${s(Math.max(...r.warmMs))} | ${(m / r.nodes).toFixed(0)} | ${(m / median(base.warmMs)).toFixed(2)} |`,
  );
}
