import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LabState } from '../../../src/lab/state.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { inNetns, run, startLab, stopLab } from '../../support/lab.ts';
import { labDeps } from '../../support/lab-deps.ts';
import { startTestPipeline, until, type TestPipeline } from '../../support/slack-pipeline.ts';
import { commandAnswers, doneReports, labRunnerFor, postedReports, queueIdle } from './scheduled-report-support.ts';

const LAB = 'sched';
let lab: LabState;
let deps: (OperationDeps & { close(): Promise<void> }) | undefined;
let p: TestPipeline | undefined;
const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const answers = () => commandAnswers(p!);
const quiet = () => queueIdle(p!);

beforeAll(async () => {
  lab = await startLab(LAB);
  deps = await labDeps(LAB);
  // Seconds-apart ticks for the test; production's floor is a minute.
  p = await startTestPipeline({ schedules: { minIntervalSeconds: 1 } });
}, 120_000);

afterAll(async () => {
  await p?.close();
  await deps?.close();
  await stopLab(LAB);
}, 60_000);

describe('scheduled reports on the lab', () => {
  it('posts a report every tick, shows a route broken between two ticks as a change and its repair as resolved, and stops when removed', async () => {
    p!.startWorker({ runnerFor: labRunnerFor(deps!) });
    await p!.send('schedule add "*/3 * * * * *" report --id tick');
    expect(await until(() => answers()[0])).toContain('Scheduled `tick`');

    const first = await until(() => doneReports(p!, 'tick')[0], 20_000, 'first report');
    expect(first.parent).toContain('network health — 2 nodes (schedule tick)');
    expect(first.parent).toContain('all good');
    expect(first.thread).toMatch(/k8s-node1 +\d+\.\d+\.\d+\.\d+ +yes +vxlan\.calico up/);
    expect(first.thread).toMatch(/k8s-node2 +\d+\.\d+\.\d+\.\d+ +yes +vxlan\.calico up/);

    const n1 = node('k8s-node1');
    const missing = `route to ${n1.block} (k8s-node1) missing on k8s-node2`;
    await until(() => doneReports(p!, 'tick').length >= 2, 20_000, 'second report');
    await run(inNetns(node('k8s-node2').netns, ['ip', 'route', 'del', n1.block]));
    try {
      const appeared = await until(
        () => doneReports(p!, 'tick').find((r) => r.thread.includes(`NEW       ${missing}`)),
        20_000,
        'the broken route reported as new',
      );
      expect(appeared.parent).toContain('(1 new, 0 resolved)');
      const ongoing = await until(
        () => doneReports(p!, 'tick').find((r) => r.thread.includes(`ONGOING   ${missing} since `)),
        20_000,
        'the broken route reported as ongoing',
      );
      expect(ongoing.thread).toMatch(
        new RegExp(
          `ONGOING   ${missing.replaceAll('.', '\\.').replaceAll('(', '\\(').replaceAll(')', '\\)')} since \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d`,
        ),
      );
    } finally {
      await run(
        inNetns(node('k8s-node2').netns, [
          'ip',
          'route',
          'add',
          n1.block,
          'via',
          n1.tunnelIP,
          'dev',
          'vxlan.calico',
          'onlink',
          'proto',
          '80',
        ]),
      );
    }
    const resolved = await until(
      () => doneReports(p!, 'tick').find((r) => r.thread.includes(`RESOLVED  ${missing}`)),
      20_000,
      'the repaired route reported as resolved',
    );
    expect(resolved.parent).toContain('(0 new, 1 resolved)');

    await p!.send('schedule remove tick');
    await until(() => answers().some((a) => a.startsWith('Removed schedule `tick`')), 10_000, 'removed');
    await quiet();
    const posted = postedReports(p!, 'tick').length;
    await sleep(7000); // two more ticks' worth
    expect(postedReports(p!, 'tick')).toHaveLength(posted);
    expect(await p!.queue.getJobSchedulersCount()).toBe(0);
    expect(await p!.queue.getDelayedCount()).toBe(0);
    // Every tick that ran finished its report: none was left half-posted.
    expect(postedReports(p!, 'tick').every((r) => r.done)).toBe(true);
  }, 90_000);

  it("a schedule with --sample adds a summary of the flows each node's tunnel device carried", async () => {
    const src = lab.plan.pods.find((x) => x.name === 'pod-src')!;
    const dst = lab.plan.pods.find((x) => x.name === 'pod-dest')!;
    let sending = true;
    // Connections from pod-src (k8s-node2) to pod-dest (k8s-node1) cross both nodes' vxlan.calico.
    const traffic = (async () => {
      while (sending)
        await run(inNetns(src.netnsName, ['curl', '-s', '-o', '/dev/null', '-m', '1', `http://${dst.ip}:80/`]), 3000);
    })();
    try {
      await p!.send('schedule add "*/4 * * * * *" report --sample 2 --id sampled');
      expect(await until(() => answers().find((a) => a.includes('`sampled`')))).toContain(
        'a network health report with a 2 s tunnel sample',
      );
      const sampled = await until(() => doneReports(p!, 'sampled')[0], 30_000, 'a sampled report');
      expect(sampled.thread).toContain('Tunnel sample (2 s): flows on each node');
      for (const n of ['k8s-node1', 'k8s-node2'])
        expect(sampled.thread).toMatch(
          new RegExp(
            `${n}/vxlan\\.calico +[1-9]\\d* +${src.ip.replaceAll('.', '\\.')}:\\d+ → ${dst.ip.replaceAll('.', '\\.')}:80 tcp`,
          ),
        );
      await p!.send('schedule remove sampled');
      await until(() => answers().some((a) => a.startsWith('Removed schedule `sampled`')), 10_000, 'removed');
      await quiet();
    } finally {
      sending = false;
      await traffic;
    }
  }, 60_000);

  it('with two worker hosts, each tick is posted exactly once', async () => {
    p!.startWorker({ runnerFor: labRunnerFor(deps!) }); // the second; the first test's is still running
    await p!.send('schedule add "*/2 * * * * *" report --id pair');
    await until(() => doneReports(p!, 'pair').length >= 5, 30_000, 'five reports');
    await p!.send('schedule remove pair');
    await until(() => answers().some((a) => a.startsWith('Removed schedule `pair`')), 10_000, 'removed');
    await quiet();

    const jobs = (await p!.queue.getJobs(['completed', 'failed'])).filter(
      (j) => j.data.title === 'network health report (schedule pair)',
    );
    const reports = postedReports(p!, 'pair');
    expect(jobs.length).toBeGreaterThanOrEqual(5);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(jobs.length);
    expect(jobs.every((j) => j.finishedOn && !j.failedReason)).toBe(true);
    // One parent per tick, each with its thread filled once.
    expect(reports).toHaveLength(jobs.length);
    for (const r of reports) {
      expect(r.done).toBe(true);
      expect(new Set(r.replies).size).toBe(r.replies.length);
    }
    // Ticks are whole seconds apart, never twice the same.
    const ticks = jobs.map((j) => j.opts.prevMillis ?? j.timestamp).sort();
    expect(new Set(ticks).size).toBe(ticks.length);
  }, 60_000);
});
