import { afterEach, describe, expect, it } from '@jest/globals';
import { startTestPipeline, until, type TestPipeline } from '../../support/slack-pipeline.ts';
import type { OperationRunner } from '../../../src/ops/run-operation.ts';
import type { Report } from '../../../src/model/report.ts';
import type { NodeCommandRecord } from '../../../src/audit/audited-shell.ts';

const report: Report = {
  title: 'trace default/pod-src → default/pod-dest',
  headline: 'no problems found',
  findings: [{ severity: 'info', code: 'overlay', message: 'VXLAN over vxlan.calico', evidence: '' }],
  sections: [
    {
      kind: 'preformatted',
      title: 'k8s-node2: ip route',
      text: '10.244.0.0/26 via 10.244.0.0 dev vxlan.calico proto 80 onlink\n',
    },
  ],
  attachments: [
    {
      filename: 'trace.pcap',
      title: 'capture',
      contentType: 'application/vnd.tcpdump.pcap',
      data: Buffer.alloc(64, 1),
    },
  ],
};

/** A runner that reports two node commands, as the audited shell would, then returns the report. */
const fakeRunnerFor =
  (onCommand: (r: NodeCommandRecord) => void): OperationRunner =>
  async (_command, ctx) => {
    ctx.onStep('inspecting nodes');
    onCommand({ node: 'k8s-node1', command: 'ip -j route show', exitCode: 0, timedOut: false, durationMs: 12 });
    onCommand({ node: 'k8s-node2', command: 'iptables-save -t nat', exitCode: 0, timedOut: false, durationMs: 30 });
    return { result: { findings: report.findings }, report };
  };

/** A runner that waits until aborted (a job to cancel or to time out). */
const blockingRunner: OperationRunner = (_command, ctx) =>
  new Promise((_resolve, reject) => {
    ctx.onStep('capturing for 30 s on k8s-node1/eth0');
    ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
  });

let p: TestPipeline | null = null;
afterEach(async () => {
  await p?.close();
  p = null;
});

const parentDone = (pl: TestPipeline, text: string) =>
  pl.standIn.calls.some((c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks).includes(text));

describe('/k8snet through Bolt, BullMQ and a worker', () => {
  it('acknowledges a signed command at once, posts the parent, fills the thread, attaches the pcap; the parent ends done', async () => {
    p = await startTestPipeline();
    p.startWorker({ runnerFor: fakeRunnerFor });
    const r = await p.send('trace pod-src pod-dest');
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(r.ms).toBeLessThan(3000);
    const parent = await until(() =>
      p!.standIn.calls.find((c) => c.method === 'chat.postMessage' && !c.args.thread_ts),
    );
    expect(JSON.stringify(parent.args.blocks)).toContain('queued as job 1 — asked by <@U1>');
    await until(() => parentDone(p!, 'no problems found'), 20_000, 'parent done');
    expect(JSON.stringify(p.threadCalls())).toContain('10.244.0.0/26 via 10.244.0.0 dev vxlan.calico proto 80 onlink');
    const done = p.standIn.calls.filter((c) => c.method === 'chat.update').at(-1)!;
    expect(JSON.stringify(done.args.blocks)).toMatch(/done in \d+\.\d s — asked by <@U1>/);
    expect([...p.standIn.uploads.values()].map((u) => [u.filename, u.bytes])).toEqual([
      ['trace.pcap', Buffer.alloc(64, 1)],
    ]);
    // Every reply went into the parent's thread.
    expect(new Set(p.threadCalls().map((c) => c.args.thread_ts))).toEqual(
      new Set([String(p.standIn.messages.values().next().value!.ts)]),
    );
  });

  it('keeps an audit trail: the request, each node command with its exit status, the outcome; and posts it to the audit channel', async () => {
    p = await startTestPipeline({
      access: { allowedChannels: [], allowedUsers: [], captureUsers: ['U1'], auditChannel: 'CAUDIT' },
    });
    p.startWorker({ runnerFor: fakeRunnerFor, auditChannel: 'CAUDIT' });
    await p.send('routes k8s-node1');
    await p.send('frobnicate', { user: 'U7' });
    await until(async () => (await p!.audit.recent(10)).some((e) => e.type === 'outcome'), 20_000, 'outcome audited');
    const trail = await p.audit.recent(10);
    expect(trail.map((e) => e.type).sort()).toEqual(['node_command', 'node_command', 'outcome', 'refused', 'request']);
    expect(trail.find((e) => e.type === 'request')).toMatchObject({
      jobId: 'j1',
      user: 'U1',
      channel: 'C1',
      command: 'routes k8s-node1',
    });
    expect(trail.find((e) => e.type === 'node_command')).toMatchObject({
      jobId: 'j1',
      node: 'k8s-node1',
      command: 'ip -j route show',
      exitCode: 0,
      timedOut: false,
      durationMs: 12,
    });
    expect(trail.find((e) => e.type === 'refused')).toMatchObject({
      user: 'U7',
      reason: expect.stringContaining('unknown command "frobnicate"'),
    });
    const posted = await until(() =>
      p!.standIn.calls.find((c) => c.method === 'chat.postMessage' && c.args.channel === 'CAUDIT'),
    );
    expect(JSON.stringify(posted.args.blocks)).toContain('<@U1> ran `routes k8s-node1` in <#C1> (job j1): *done*');
    expect(JSON.stringify(posted.args.blocks)).toContain('k8s-node2  exit 0');
  });

  it('rejects a bad signature and a stale timestamp, and queues nothing', async () => {
    p = await startTestPipeline();
    expect((await p.send('trace pod-src pod-dest', { secret: 'wrong' })).status).toBe(401);
    expect((await p.send('trace pod-src pod-dest', { age: 6 * 60 })).status).toBe(401);
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, completed: 0 });
    // Only the bot's start-up token check reached Slack.
    expect(p.standIn.calls.map((c) => c.method)).toEqual(['auth.test']);
  });

  it('answers an unknown subcommand, hostile arguments and a disallowed user or channel privately, and queues nothing', async () => {
    p = await startTestPipeline({
      access: { allowedChannels: ['C1'], allowedUsers: ['U1', 'SOPS'], captureUsers: [], auditChannel: undefined },
    });
    p.standIn.setUserGroup('SOPS', ['U5']);
    const bad = JSON.parse((await p.send('frobnicate')).body) as { response_type: string; text: string };
    expect(bad).toMatchObject({ response_type: 'ephemeral' });
    expect(bad.text).toContain('unknown command "frobnicate"');
    expect(bad.text).toContain('/k8snet trace SRC-POD DST-POD');
    expect(JSON.parse((await p.send('trace "pod;reboot" pod-dest')).body).text).toContain('is not a valid name');
    expect(JSON.parse((await p.send('nodeport 99999')).body).text).toContain('PORT');
    expect(JSON.parse((await p.send('trace a b --lab x')).body).text).toContain('--lab is a terminal option');
    await p.send('routes k8s-node1', { user: 'U2' });
    await p.send('routes k8s-node1', { channel: 'C9' });
    await p.send('trace pod-src pod-dest');
    const denials = await until(() => {
      const r = p!.standIn.calls.filter((c) => c.method === 'response_url');
      return r.length === 3 && r;
    });
    expect(denials.map((d) => d.args).sort((a, b) => String(a.text).localeCompare(String(b.text)))).toEqual([
      { response_type: 'ephemeral', text: ':no_entry: Not allowed: k8snet is not enabled in this channel.' },
      {
        response_type: 'ephemeral',
        text: ':no_entry: Not allowed: you are not on the list of users allowed to run k8snet.',
      },
      {
        response_type: 'ephemeral',
        text: ':no_entry: Not allowed: you may not capture packets; add `--no-capture` to run the command without a capture.',
      },
    ]);
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, completed: 0, delayed: 0 });
    expect(p.standIn.calls.filter((c) => c.method === 'chat.postMessage')).toEqual([]);
    // A member of an allowed user group may run commands.
    await p.send('routes k8s-node1', { user: 'U5' });
    expect(await until(async () => (await p!.queue.getJobCounts()).waiting === 1)).toBe(true);
    expect(p.standIn.calls.filter((c) => c.method === 'usergroups.users.list')).toHaveLength(1);
  });

  it('tells the user to invite the bot when it is not in the channel, and queues nothing', async () => {
    p = await startTestPipeline();
    p.standIn.leaveChannel('C0OUTSIDE');
    await p.send('routes k8s-node1', { channel: 'C0OUTSIDE' });
    const answer = await until(() => p!.standIn.calls.find((c) => c.method === 'response_url'));
    expect(answer.args).toEqual({
      response_type: 'ephemeral',
      text: ':warning: k8snet is not in this channel: invite it with `/invite @k8snet` (in a direct message between people, use your DM with k8snet — Apps → k8snet — or a channel), then try again.',
    });
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0 });
  });

  it('retries replies Slack rate-limits after Retry-After, posting each exactly once', async () => {
    p = await startTestPipeline();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    p.startWorker({
      runnerFor: (onCommand) => async (command, ctx) => (await gate, fakeRunnerFor(onCommand)(command, ctx)),
    });
    await p.send('routes k8s-node1');
    await until(() => p!.standIn.calls.some((c) => c.method === 'chat.postMessage'));
    // The worker's replies (not the bot's parent) meet the rate limit.
    p.standIn.rateLimit('chat.postMessage', 2, 1);
    release();
    await until(() => parentDone(p!, 'no problems found'), 30_000, 'parent done');
    expect(p.standIn.calls.filter((c) => c.method === 'chat.postMessage (429)')).toHaveLength(2);
    const bodies = p.threadCalls().map((c) => JSON.stringify(c.args.blocks));
    expect(bodies.length).toBeGreaterThan(0);
    expect(new Set(bodies).size).toBe(bodies.length);
  }, 40_000);

  it('says in the thread when a job fails', async () => {
    p = await startTestPipeline();
    p.startWorker({
      runnerFor: () => async () => {
        throw new Error('kaboom');
      },
    });
    await p.send('routes k8s-node1');
    const failed = await until(() => p!.threadCalls()[0]);
    expect(String(failed.args.text)).toBe('failed: Error: kaboom');
    await until(() => parentDone(p!, 'failed: Error: kaboom'));
  });

  it('cancels a job that runs too long and says so in the thread', async () => {
    p = await startTestPipeline();
    p.startWorker({
      runnerFor: () => blockingRunner,
      settings: {
        concurrency: 1,
        jobTimeoutMs: 1500,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
        shutdownGraceMs: 1000,
      },
    });
    await p.send('routes k8s-node1');
    const reply = await until(() => p!.threadCalls()[0]);
    expect(String(reply.args.text)).toBe(
      'stopped: the job took longer than 2 s (while capturing for 30 s on k8s-node1/eth0) and was cancelled',
    );
  });

  it('`/k8snet cancel N` stops a running job on whichever worker has it, and removes a waiting one', async () => {
    p = await startTestPipeline();
    p.startWorker({
      runnerFor: () => blockingRunner,
      settings: {
        concurrency: 1,
        jobTimeoutMs: 60_000,
        lockDurationMs: 30_000,
        stalledIntervalMs: 30_000,
        shutdownGraceMs: 1000,
      },
    });
    await p.send('routes k8s-node1');
    await p.send('routes k8s-node2');
    // The bot queues a command after acknowledging it: job 2 is there once a user could know its number.
    await until(
      async () => (await p!.queue.getJobCounts()).active === 1 && (await p!.queue.getJob('j2')) !== undefined,
    );
    await p.send('cancel 2', { user: 'U3' });
    await p.send('cancel 1', { user: 'U3' });
    const reply = await until(() => p!.threadCalls()[0]);
    expect(reply.args.blocks).toEqual([
      {
        type: 'section',
        text: { type: 'mrkdwn', text: ':warning: cancelled while capturing for 30 s on k8s-node1/eth0 by <@U3>' },
      },
    ]);
    const answers = await until(() => {
      const r = p!.standIn.calls.filter((c) => c.method === 'response_url').map((c) => c.args.text);
      return r.length === 2 && r;
    });
    expect(answers.sort()).toEqual([
      'Asked the worker running job 1 to stop; the thread will say when it has.',
      'Job 2 was cancelled before it started.',
    ]);
    expect(await p.queue.getJob('j2')).toBeUndefined();
    await p.send('cancel 1', { channel: 'C2' });
    await until(
      () =>
        p!.standIn.calls.filter((c) => c.method === 'response_url').at(2)?.args.text === 'No job 1 in this channel.',
    );
  });
});
