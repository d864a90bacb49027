/**
 * Many clusters through the pipeline: one queue per cluster, the channel's default cluster, --cluster, a job for a
 * cluster with no worker saying so in its thread, `/k8snet clusters`, and follow-ups that stay on their cluster.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { startTestPipeline, until, type TestPipeline } from '../../support/slack-pipeline.ts';
import { parseClustersFile } from '../../../src/clusters/clusters-file.ts';
import { createInspectionQueue, queueName } from '../../../src/queue/jobs.ts';
import { ReportSchedules } from '../../../src/schedule/report-schedules.ts';
import type { OperationRunner } from '../../../src/ops/run-operation.ts';

const clusters = parseClustersFile(`
clusters:
  cfeu:
    kubeconfig: /secrets/eu/kubeconfig
    channels: [C1]
  cfus:
    kubeconfig: /secrets/us/kubeconfig
    capture: { maxSeconds: 4 }
  cfap:
    kubeconfig: /secrets/ap/kubeconfig
    capture: { defaultSeconds: 3, maxSeconds: 4 }
    channels: [C4]
`);

/** A runner that says which cluster's worker ran it. */
const runnerOn = (cluster: string) => (): OperationRunner => async (command) => ({
  result: { findings: [] },
  report: {
    title: `${command.op} on ${cluster}`,
    headline: `ran on ${cluster}`,
    findings: [],
    sections: [{ kind: 'text', title: 'where', text: `worker of ${cluster}` }],
    attachments: [],
  },
});

let p: TestPipeline | null = null;
afterEach(async () => {
  await p?.close();
  p = null;
});

const blocksOf = (pl: TestPipeline, channel: string, ts: string) =>
  JSON.stringify(pl.standIn.messages.get(`${channel}/${ts}`)?.blocks ?? '');
const topLevel = (pl: TestPipeline, channel: string) =>
  [...pl.standIn.messages.values()].filter((m) => m.channel === channel && !m.thread_ts);

describe('many clusters', () => {
  it("sends a channel's commands to its cluster's queue, --cluster elsewhere, and says in the thread when no worker serves a cluster", async () => {
    p = await startTestPipeline({ clusters });
    p.startWorker({ runnerFor: runnerOn('cfeu'), queueName: queueName('cfeu'), cluster: 'cfeu' });
    await p.send('routes k8s-node1');
    const eu = await until(() => topLevel(p!, 'C1')[0]);
    await until(() => blocksOf(p!, 'C1', eu.ts).includes('ran on cfeu'), 20_000, 'ran on cfeu');
    // Its buttons keep the cluster: a re-run goes to cfeu again.
    await p.click(eu.ts, 'k8snet:rerun');
    await until(
      async () =>
        (await p!.queue.getJobCounts()).completed === 0 &&
        p!.standIn.calls.filter(
          (c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks).includes('ran on cfeu'),
        ).length >= 2,
      20_000,
      're-run on cfeu',
    );

    // cfus has no worker: the job waits in its own queue, and its thread says so.
    await p.send('routes k8s-node1 --cluster cfus', { channel: 'C2' });
    const us = await until(() => topLevel(p!, 'C2')[0]);
    const notice = await until(() =>
      p!.threadCalls().find((c) => c.args.channel === 'C2' && c.args.thread_ts === us.ts),
    );
    expect(JSON.stringify(notice.args.blocks)).toContain(
      'No worker is running for cluster `cfus` right now: job 3 waits in its queue until one starts (`k8snet worker --cluster cfus`)',
    );
    expect(blocksOf(p, 'C2', us.ts)).toContain('routes k8s-node1 on cfus');
    // A worker for cfus picks it up once it starts.
    p.startWorker({ runnerFor: runnerOn('cfus'), queueName: queueName('cfus'), cluster: 'cfus' });
    await until(() => blocksOf(p!, 'C2', us.ts).includes('ran on cfus'), 20_000, 'ran on cfus');
    // The default queue got nothing.
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, completed: 0 });
    // A channel of no cluster goes to the default queue; with a clusters file, its missing worker is said too.
    await p.send('routes k8s-node2', { channel: 'C3' });
    const dflt = await until(() => topLevel(p!, 'C3')[0]);
    const waits = await until(() =>
      p!.threadCalls().find((c) => c.args.channel === 'C3' && c.args.thread_ts === dflt.ts),
    );
    expect(JSON.stringify(waits.args.blocks)).toContain(
      'No worker is running for the default cluster right now: job 4 waits in its queue until one starts (`k8snet worker`)',
    );
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 1 });
  }, 60_000);

  it('lists the clusters with their channels and workers, and refuses an unknown cluster', async () => {
    p = await startTestPipeline({ clusters });
    p.startWorker({ runnerFor: runnerOn('cfeu'), queueName: queueName('cfeu'), cluster: 'cfeu' });
    await until(
      async () => (await p!.redis.exists(`${p!.prefix}:{k8snet}-workers:${queueName('cfeu')}`)) === 1,
      5000,
      'worker presence',
    );
    await p.send('clusters');
    await p.send('pod a --cluster nowhere');
    // The cluster's own capture ceiling, below the deployment's: refused by the grammar, in the acknowledgement.
    const ceiling = await p.send('trace a b -c cfus --capture-seconds 5');
    expect((JSON.parse(ceiling.body) as { text: string }).text).toContain(
      '--capture-seconds: cluster cfus captures at most 4 s',
    );
    const answers = await until(() => {
      const r = p!.standIn.calls.filter((c) => c.method === 'response_url').map((c) => String(c.args.text));
      return r.length === 2 && r;
    });
    const list = answers.find((a) => a.startsWith('*Clusters*'))!;
    expect(list).toContain('this channel uses *cfeu*');
    expect(list).toContain('• `cfeu` — default in <#C1>; a worker is running');
    expect(list).toContain(
      '• `cfus` — by `--cluster` only; :warning: no worker is running (`k8snet worker --cluster cfus`)',
    );
    expect(answers.find((a) => a.includes('nowhere'))).toContain('no cluster "nowhere"; `/k8snet clusters` lists them');
  });

  it('without a clusters file, --cluster is refused and everything goes to the default queue', async () => {
    p = await startTestPipeline();
    const r = JSON.parse((await p.send('pod a -c cfeu')).body || '{}') as { text?: string };
    const text =
      r.text ?? String((await until(() => p!.standIn.calls.find((c) => c.method === 'response_url'))).args.text);
    expect(text).toContain('this k8snet knows one cluster only (no K8SNET_CLUSTERS_FILE)');
  });

  it("schedules name their cluster: made for the channel's or --cluster, kept on its queue, run by its worker, listed and reported with it; an old schedule keeps the default", async () => {
    p = await startTestPipeline({ clusters, schedules: { minIntervalSeconds: 1 } });
    // A schedule stored before there were clusters: on the default queue, its job data naming none.
    await new ReportSchedules({ queue: p.queue, redis: p.redis, prefix: p.prefix }).upsert(
      { id: 'legacy', cron: '0 6 * * *', tz: 'UTC', channel: 'C3' },
      'U1',
      new Date().toISOString(),
    );
    const answers = () => p!.standIn.calls.filter((c) => c.method === 'response_url').map((c) => String(c.args.text));
    const answer = async (n: number) =>
      (await until(() => answers().length >= n && answers(), 10_000, `answer ${n}`))[n - 1]!;
    // C1 uses cfeu: a schedule added there reports on cfeu.
    await p.send('schedule add "*/2 * * * * *" report --id eu-tick', { channel: 'C1' });
    expect(await answer(1)).toContain('Scheduled `eu-tick`: a network health report on cluster `cfeu` `*/2 * * * * *`');
    await p.send('schedule add "0 7 * * *" report --id us-daily --cluster cfus', { channel: 'C3' });
    expect(await answer(2)).toContain('a network health report on cluster `cfus`');
    await p.send('schedule add "0 7 * * *" report -c nowhere', { channel: 'C3' });
    expect(await answer(3)).toContain('no cluster "nowhere"; `/k8snet clusters` lists them');

    // Each lives on its cluster's queue, its ticks' jobs naming the cluster; the old one stays where it was.
    const queues = {
      cfeu: createInspectionQueue(p.redis, p.prefix, 'cfeu'),
      cfus: createInspectionQueue(p.redis, p.prefix, 'cfus'),
    };
    try {
      const ids = async (q: TestPipeline['queue']) => (await q.getJobSchedulers()).map((s) => s.key).sort();
      expect(await ids(p.queue)).toEqual(['legacy']);
      expect(await ids(queues.cfeu)).toEqual(['eu-tick']);
      expect(await ids(queues.cfus)).toEqual(['us-daily']);
      expect((await queues.cfus.getJobSchedulers())[0]!.template!.data).toMatchObject({
        cluster: 'cfus',
        title: 'network health report on cfus (schedule us-daily)',
      });
      expect((await p.queue.getJobSchedulers())[0]!.template!.data).not.toHaveProperty('cluster');

      await p.send('schedule list', { channel: 'C3' });
      const list = (await answer(4)).split('\n');
      expect(list.find((l) => l.includes('`eu-tick`'))).toContain('UTC on cluster `cfeu` → <#C1>');
      expect(list.find((l) => l.includes('`us-daily`'))).toContain('UTC on cluster `cfus` → <#C3>');
      expect(list.find((l) => l.includes('`legacy`'))).toMatch(/`0 6 \* \* \*` UTC → <#C3>/);

      // cfeu's worker runs its ticks; its report names the cluster and the schedule.
      p.startWorker({
        runnerFor: () => async () => ({
          result: { findings: [] },
          report: {
            title: 'network health report',
            headline: 'ran on cfeu',
            findings: [],
            sections: [],
            attachments: [],
          },
        }),
        queueName: queueName('cfeu'),
        cluster: 'cfeu',
      });
      await until(
        () =>
          [...p!.standIn.messages.values()].some(
            (m) =>
              m.channel === 'C1' &&
              JSON.stringify(m.blocks ?? '').includes('network health report on cfeu (schedule eu-tick)') &&
              JSON.stringify(m.blocks ?? '').includes('ran on cfeu'),
          ),
        20_000,
        'a tick of eu-tick reported on cfeu',
      );
      await p.send('schedule remove eu-tick', { channel: 'C1' });
      expect(await answer(5)).toContain('Removed schedule `eu-tick` (`*/2 * * * * *` on cluster `cfeu` into <#C1>)');
      expect(await ids(queues.cfeu)).toEqual([]);
    } finally {
      await Promise.all([queues.cfeu.close(), queues.cfus.close()]);
    }
  });

  it("applies a cluster's own capture limits when the bot reads a command for it: its default window, its ceiling with a clear answer", async () => {
    p = await startTestPipeline({ clusters });
    const cfap = createInspectionQueue(p.redis, p.prefix, 'cfap');
    try {
      const windows = async (q: TestPipeline['queue']) =>
        (await q.getJobs(['waiting'])).map((j) => [
          j.data.channel,
          (j.data.command as { capture?: { seconds: number } }).capture?.seconds,
        ]);
      // C4 uses cfap (default 3 s, at most 4 s); C1 uses cfeu (no limits of its own: the deployment's 2 s, 30 s).
      await p.send('trace a b', { channel: 'C4' });
      await p.send('trace a b --capture-seconds 4', { channel: 'C4' });
      await p.send('trace a b -c cfap', { channel: 'C1' });
      // Asking more than cfap allows: answered privately at once (the acknowledgement), nothing queued.
      const refused = await p.send('trace a b --capture-seconds 5', { channel: 'C4' });
      expect((JSON.parse(refused.body) as { text: string }).text).toMatch(
        /^:no_entry: --capture-seconds: cluster cfap captures at most 4 s; ask for 4 or fewer/,
      );
      await p.send('nodeport 31080 --capture-seconds 20', { channel: 'C1' });
      await until(async () => (await cfap.getJobCounts('waiting')).waiting === 3, 10_000, 'three jobs on cfap');
      expect((await windows(cfap)).sort()).toEqual([
        ['C1', 3],
        ['C4', 3],
        ['C4', 4],
      ]);
      const eu = createInspectionQueue(p.redis, p.prefix, 'cfeu');
      try {
        await until(async () => (await eu.getJobCounts('waiting')).waiting === 1, 10_000, 'the nodeport on cfeu');
        expect(await windows(eu)).toEqual([['C1', 20]]);
      } finally {
        await eu.close();
      }
    } finally {
      await cfap.close();
    }
  });
});
