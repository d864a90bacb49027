/**
 * Many clusters through the pipeline: one queue per cluster, the channel's default cluster, --cluster, a job for a
 * cluster with no worker saying so in its thread, `/k8snet clusters`, and follow-ups that stay on their cluster.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { startTestPipeline, until, type TestPipeline } from '../../support/slack-pipeline.ts';
import { parseClustersFile } from '../../../src/clusters/clusters-file.ts';
import { queueName } from '../../../src/queue/jobs.ts';
import type { OperationRunner } from '../../../src/ops/run-operation.ts';

const clusters = parseClustersFile(`
clusters:
  cfeu:
    kubeconfig: /secrets/eu/kubeconfig
    channels: [C1]
  cfus:
    kubeconfig: /secrets/us/kubeconfig
    capture: { maxSeconds: 4 }
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
    await p.send('trace a b -c cfus --capture-seconds 5');
    const answers = await until(() => {
      const r = p!.standIn.calls.filter((c) => c.method === 'response_url').map((c) => String(c.args.text));
      return r.length === 3 && r;
    });
    // The cluster's own capture ceiling, below the deployment's.
    expect(answers.find((a) => a.includes('cfus captures'))).toContain(
      '--capture-seconds: cluster cfus captures at most 4 s',
    );
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
});
