import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import type { LabState } from '../../../src/lab/state.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';
import { startTestPipeline, until, type TestPipeline } from '../../support/slack-pipeline.ts';
import { doneReports, labRunnerFor, removeSchedule } from './scheduled-report-support.ts';

const LAB = 'sch10';
const TEN_NODES = fileURLToPath(new URL('../../../src/lab/topologies/ten-node.yaml', import.meta.url));
let lab: LabState;
let deps: (OperationDeps & { close(): Promise<void> }) | undefined;
let p: TestPipeline | undefined;

beforeAll(async () => {
  lab = await startLab(LAB, TEN_NODES);
  deps = await labDeps(LAB);
  p = await startTestPipeline({ schedules: { minIntervalSeconds: 1 } });
  p.startWorker({ runnerFor: labRunnerFor(deps) });
}, 120_000);

afterAll(async () => {
  await p?.close();
  await deps?.close();
  await stopLab(LAB);
}, 60_000);

/** Stops a lab node's sshd and its open sessions (our pooled connection among them): the node is unreachable. */
async function stopSshd(nodeName: string): Promise<void> {
  const sshd = lab.processes.find((x) => x.owner === nodeName && x.role === 'sshd')!;
  const children = (await run(['ps', '-o', 'pid=', '--ppid', String(sshd.pid)])).stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  for (const pid of [sshd.pid, ...children]) process.kill(pid, 'SIGTERM');
}

describe('a scheduled report on a ten-node lab', () => {
  it('covers every node, and reports a node it cannot reach without failing', async () => {
    const names = lab.plan.nodes.map((n) => n.name);
    expect(names).toHaveLength(10);
    await p!.send('schedule add "*/4 * * * * *" report --id ten');
    const first = await until(() => doneReports(p!, 'ten')[0], 30_000, 'first report');
    expect(first.parent).toContain('network health — 10 nodes (schedule ten)');
    expect(first.parent).toContain('all good');
    expect(first.thread).toContain("Nodes (kube-proxy's ConfigMap: mode iptables)");
    for (const n of lab.plan.nodes)
      expect(first.thread).toMatch(
        new RegExp(
          `${n.name} +${n.ip.replaceAll('.', '\\.')} +yes +vxlan\\.calico up +\\d+ +kube-proxy iptables +iptables`,
        ),
      );

    await stopSshd('node-10');
    const after = await until(
      () => doneReports(p!, 'ten').find((r) => r.thread.includes('NEW       node-10')),
      40_000,
      'node-10 reported unreachable',
    );
    expect(after.parent).toContain('network health — 10 nodes');
    expect(after.thread).toMatch(/node-10 \(\d+\.\d+\.\d+\.\d+\) could not be inspected/);
    for (const n of names.filter((x) => x !== 'node-10'))
      expect(after.thread).toMatch(new RegExp(`${n} +\\S+ +yes +vxlan`));
    expect(after.thread).toMatch(/node-10 +\S+ +NO: /);
    await removeSchedule(p!, 'ten');
  }, 90_000);
});
