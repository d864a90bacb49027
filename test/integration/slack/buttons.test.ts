/**
 * The buttons under a job's parent message, through the real Bolt receiver, BullMQ on Redis, a worker host and the
 * Slack stand-in (clicks are `block_actions` payloads signed as Slack signs them): each click is a new job in the
 * same thread, asked by the clicker, checked against the allow-lists for the clicker, audited.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BOT_TOKEN,
  SIGNING_SECRET,
  startTestPipeline,
  until,
  type TestPipeline,
} from '../../support/slack-pipeline.ts';
import type { OperationRunner } from '../../../src/ops/run-operation.ts';
import type { Report } from '../../../src/model/report.ts';
import type { NodeCommandEvidence } from '../../../src/audit/audited-shell.ts';
import type { ClusterRead } from '../../../src/ops/recording-cluster.ts';
import { deriveActionKey, sealActionValue } from '../../../src/slack/action-value.ts';

const report = (title: string, seconds: number): Report => ({
  title,
  headline: 'no problems found',
  findings: [
    { severity: 'info', code: 'overlay', message: `VXLAN over vxlan.calico (captured ${seconds} s)`, evidence: '' },
  ],
  sections: [
    {
      kind: 'preformatted',
      title: 'k8s-node2: ip route',
      text: `10.244.0.0/26 via 10.244.0.0 dev vxlan.calico (capture ${seconds} s)\n`,
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
});

/** Reports what the audited shell and the recording cluster would: commands with output, a pod read. */
const runnerFor =
  (onCommand: (r: NodeCommandEvidence) => void, onRead: (r: ClusterRead) => void): OperationRunner =>
  async (command, ctx) => {
    ctx.onStep('inspecting nodes');
    onRead({
      call: 'getPod',
      seq: 1,
      args: ['default', 'pod-src'],
      at: new Date().toISOString(),
      durationMs: 3,
      result: { name: 'pod-src', namespace: 'default', podIP: '10.244.0.5' },
    });
    const seconds = 'capture' in command ? command.capture.seconds : 0;
    onCommand({
      node: 'k8s-node1',
      command: 'ip -j route show',
      argv: ['ip', '-j', 'route', 'show'],
      startedAt: new Date().toISOString(),
      exitCode: 0,
      timedOut: false,
      durationMs: 12,
      stdout: `[{"dst":"10.244.1.0/26"}] capture=${seconds}`,
      stderr: `leaked ${BOT_TOKEN} and ${SIGNING_SECRET}`,
    });
    onCommand({
      node: 'k8s-node2',
      command: 'iptables-save -c',
      argv: ['iptables-save', '-c'],
      startedAt: new Date().toISOString(),
      exitCode: 0,
      timedOut: false,
      durationMs: 30,
      stdout: '*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n',
      stderr: '',
    });
    return { result: { findings: [], seconds }, report: report(`${command.op} ran`, seconds) };
  };

let p: TestPipeline | null = null;
afterEach(async () => {
  await p?.close();
  p = null;
});

const ACCESS = {
  allowedChannels: [],
  allowedUsers: ['U1', 'U2', 'U3'],
  captureUsers: ['U1', 'U2'],
  auditChannel: undefined,
};

type Block = { type: string; elements?: { action_id: string; text: { text: string }; value: string }[] };
const buttonsOf = (pl: TestPipeline, ts: string) =>
  ((pl.standIn.messages.get(`C1/${ts}`)?.blocks ?? []) as Block[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);
const parents = (pl: TestPipeline) =>
  [...pl.standIn.messages.values()].filter(
    (m) => m.channel === 'C1' && JSON.stringify(m.blocks ?? '').includes('"type":"header"'),
  );
const done = (pl: TestPipeline, ts: string) =>
  /done/.test(JSON.stringify(pl.standIn.messages.get(`C1/${ts}`)?.blocks ?? ''));
const ephemerals = (pl: TestPipeline) =>
  pl.standIn.calls
    .filter((c) => c.method === 'response_url')
    .map((c) => c.args as { text: string; replace_original?: boolean });

describe('follow-up buttons', () => {
  it('a trace, "Capture again (10 s)" by another allowed user, then "Evidence bundle": jobs in one thread, each reply once; the bundle opens with tar and holds the commands and no secret', async () => {
    p = await startTestPipeline({ access: ACCESS });
    p.startWorker({ runnerFor });
    await p.send('trace pod-src pod-dest --capture-seconds 2');
    const first = await until(() => parents(p!)[0]);
    // Queued and running: a Cancel button — on the message as it was posted (a quick job may be done already).
    const posted = p.standIn.calls.find(
      (c) => c.method === 'chat.postMessage' && c.args.channel === 'C1' && !c.args.thread_ts,
    );
    const postedButtons = ((posted?.args.blocks ?? []) as Block[])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => b.elements ?? []);
    expect(postedButtons.map((b) => b.text.text)).toEqual(['Cancel']);
    await until(() => done(p!, first.ts), 20_000, 'trace done');
    expect(buttonsOf(p, first.ts).map((b) => b.text.text)).toEqual([
      'Capture again (10 s)',
      'Reverse (DST → SRC)',
      'No capture',
      'Evidence bundle',
      'Re-run',
    ]);

    const click = await p.click(first.ts, 'k8snet:capture_again', { user: 'U2' });
    expect(click.status).toBe(200);
    expect(click.ms).toBeLessThan(3000);
    // The follow-up's parent is a reply in the first job's thread, asked by the clicker.
    const second = await until(() => parents(p!).find((m) => m.thread_ts === first.ts));
    expect(JSON.stringify(second.blocks)).toContain('asked by <@U2>');
    await until(() => done(p!, second.ts), 20_000, 'capture again done');
    const job2 = await p.queue.getJob('j2');
    expect(job2?.data.command).toMatchObject({
      op: 'trace',
      src: 'pod-src',
      dst: 'pod-dest',
      capture: { enabled: true, seconds: 10 },
    });
    expect(job2?.data.user).toBe('U2');

    await p.click(second.ts, 'k8snet:bundle', { user: 'U1' });
    // The upload is done once files.completeUploadExternal shares it into the thread.
    const complete = await until(
      () =>
        p!.standIn.calls.find(
          (c) => c.method === 'files.completeUploadExternal' && JSON.stringify(c.args).includes('evidence of job 2'),
        ),
      20_000,
      'bundle shared',
    );
    const upload = [...p.standIn.uploads.values()].find((u) => u.filename === 'k8snet-evidence-2.tar.gz')!;
    expect(complete?.args.thread_ts).toBe(first.ts);

    const dir = mkdtempSync(join(tmpdir(), 'cf-bundle-'));
    try {
      writeFileSync(join(dir, 'b.tar.gz'), upload.bytes);
      const listing = execFileSync('tar', ['-tzf', join(dir, 'b.tar.gz')], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean);
      expect(listing).toEqual(
        expect.arrayContaining([
          'k8snet-evidence-j2/README.txt',
          'k8snet-evidence-j2/result.json',
          'k8snet-evidence-j2/findings.txt',
          'k8snet-evidence-j2/commands.tsv',
          'k8snet-evidence-j2/commands/001-k8s-node1.txt',
          'k8snet-evidence-j2/cluster/001-getPod.yaml',
          'k8snet-evidence-j2/captures/trace.pcap',
        ]),
      );
      execFileSync('tar', ['-xzf', join(dir, 'b.tar.gz'), '-C', dir]);
      const root = join(dir, 'k8snet-evidence-j2');
      expect(readFileSync(join(root, 'commands/001-k8s-node1.txt'), 'utf8')).toContain(
        'argv: ["ip","-j","route","show"]',
      );
      expect(readFileSync(join(root, 'commands/001-k8s-node1.txt'), 'utf8')).toContain('capture=10');
      expect(readFileSync(join(root, 'README.txt'), 'utf8')).toContain('trace pod-src pod-dest --capture-seconds 10');
      const everything = execFileSync('grep', ['-r', '-l', '-e', BOT_TOKEN, '-e', SIGNING_SECRET, root], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
      expect(everything).toBe('');
    } catch (err) {
      // grep exits 1 when nothing matched: that is the pass.
      if ((err as { status?: number }).status !== 1) throw err;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // The bundle holds the job's pcaps: someone off the capture list may not have it.
    await p.click(second.ts, 'k8snet:bundle', { user: 'U3' });
    await until(
      () => ephemerals(p!).some((a) => a.text.includes('you may not capture packets')),
      10_000,
      'bundle refused to U3',
    );

    // Each reply once: no two thread posts alike, and all in the first job's thread.
    const bodies = p.threadCalls().map((c) => `${String(c.args.thread_ts)} ${JSON.stringify(c.args.blocks)}`);
    expect(new Set(bodies).size).toBe(bodies.length);
    expect(new Set(p.threadCalls().map((c) => c.args.thread_ts))).toEqual(new Set([first.ts]));
    const trail = await p.audit.recent(50);
    expect(trail.filter((e) => e.type === 'request').map((e) => [e.user, (e as { command: string }).command])).toEqual([
      ['U1', 'trace default/pod-src → default/pod-dest'],
      ['U2', 'trace default/pod-src → default/pod-dest (button: Capture again (10 s))'],
      ['U1', 'evidence bundle of job 2 (button: Evidence bundle)'],
    ]);
    // The audit trail never holds command output.
    expect(JSON.stringify(trail)).not.toContain(BOT_TOKEN);
    expect(JSON.stringify(trail)).not.toContain('capture=');
  }, 60_000);

  it('refuses a capture click by a user not on the capture list, and altered, expired or wrongly signed clicks; queues nothing', async () => {
    p = await startTestPipeline({ access: ACCESS });
    p.startWorker({ runnerFor });
    await p.send('trace pod-src pod-dest --no-capture');
    const first = await until(() => parents(p!)[0]);
    await until(() => done(p!, first.ts), 20_000, 'trace done');
    expect(buttonsOf(p, first.ts).map((b) => b.text.text)).toContain('With capture');

    expect((await p.click(first.ts, 'k8snet:with_capture', { user: 'U3' })).status).toBe(200);
    const rerun = buttonsOf(p, first.ts).find((b) => b.action_id === 'k8snet:rerun')!;
    // The same value on another action id, a changed command, an expired value, a foreign key.
    const [v, job, exp, , tag] = rerun.value.split('.');
    await p.click(first.ts, 'k8snet:rerun', {
      user: 'U1',
      value: [v, job, exp, Buffer.from('trace pod-src pod-dest --capture-seconds 30').toString('base64url'), tag].join(
        '.',
      ),
    });
    const key = deriveActionKey(SIGNING_SECRET);
    await p.click(first.ts, 'k8snet:rerun', {
      user: 'U1',
      value: sealActionValue(key, 'k8snet:rerun', {
        jobId: 'j1',
        text: 'trace pod-src pod-dest --no-capture',
        expiresAt: Math.floor(Date.now() / 1000) - 1,
      }),
    });
    await p.click(first.ts, 'k8snet:rerun', {
      user: 'U1',
      value: sealActionValue(deriveActionKey('another-secret'), 'k8snet:rerun', {
        jobId: 'j1',
        text: 'trace pod-src pod-dest --no-capture',
        expiresAt: Math.floor(Date.now() / 1000) + 60,
      }),
    });
    const answers = await until(() => ephemerals(p!).length === 4 && ephemerals(p!), 10_000, 'four refusals');
    expect(answers.map((a) => a.text).sort()).toEqual([
      ':no_entry: Not allowed: you may not capture packets; add `--no-capture` to run the command without a capture.',
      ':no_entry: this button has expired (buttons work for a day); type the command instead.',
      ":no_entry: this button's value was altered or does not come from this k8snet; type the command instead.",
      ":no_entry: this button's value was altered or does not come from this k8snet; type the command instead.",
    ]);
    expect(answers.every((a) => a.replace_original === false)).toBe(true);
    // A click signed with the wrong secret, or too old, never reaches the listener (Bolt's receiver answers 401).
    expect((await p.click(first.ts, 'k8snet:rerun', { user: 'U1', secret: 'wrong' })).status).toBe(401);
    expect((await p.click(first.ts, 'k8snet:rerun', { user: 'U1', age: 6 * 60 })).status).toBe(401);
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, completed: 1 });
    const refused = (await p.audit.recent(50)).filter((e) => e.type === 'refused');
    expect(refused.map((e) => e.user).sort()).toEqual(['U1', 'U1', 'U1', 'U3']);

    // A bundle no longer kept (a day later, or never: the job failed) says so in the thread and what to do.
    await p.redis.del(`${p.prefix}:{k8snet}-bundle:j1`);
    await p.click(first.ts, 'k8snet:bundle', { user: 'U1' });
    const gone = await until(
      () => p!.threadCalls().find((c) => String(c.args.text).includes('no longer kept')),
      20_000,
      'bundle gone notice',
    );
    expect(String(gone.args.text)).toBe(
      'the evidence of job 1 is no longer kept (bundles are kept a day, only for finished jobs): use Re-run, then its Evidence bundle',
    );
    expect(gone.args.thread_ts).toBe(first.ts);
  }, 60_000);

  it('"Cancel" on a running job stops it, by the clicker; "Policy" under a pod runs policy POD in the thread', async () => {
    p = await startTestPipeline({ access: ACCESS });
    p.startWorker({
      runnerFor: (onCommand, onRead) => (command, ctx) =>
        command.op === 'routes'
          ? new Promise((_resolve, reject) => {
              ctx.onStep('listing routes');
              ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
            })
          : runnerFor(onCommand, onRead)(command, ctx),
    });
    await p.send('routes k8s-node1');
    const routes = await until(() => parents(p!)[0]);
    await until(async () => (await p!.queue.getJobCounts()).active === 1);
    await p.click(routes.ts, 'k8snet:cancel', { user: 'U2' });
    await until(
      () => JSON.stringify(p!.standIn.messages.get(`C1/${routes.ts}`)?.blocks).includes('cancelled'),
      20_000,
      'cancelled',
    );
    expect(JSON.stringify(p.threadCalls())).toContain('by <@U2>');

    await p.send('pod pod-src -n payments');
    const pod = await until(() => parents(p!).find((m) => m.ts !== routes.ts && !m.thread_ts));
    await until(() => done(p!, pod.ts), 20_000, 'pod done');
    expect(buttonsOf(p, pod.ts).map((b) => b.text.text)).toEqual(['Policy', 'Evidence bundle', 'Re-run']);
    await p.click(pod.ts, 'k8snet:policy', { user: 'U3' });
    const policy = await until(() => parents(p!).find((m) => m.thread_ts === pod.ts));
    await until(() => done(p!, policy.ts), 20_000, 'policy done');
    expect((await p.queue.getJob('j3'))?.data.command).toEqual({
      op: 'policy',
      namespace: 'payments',
      name: 'pod-src',
    });
  }, 60_000);

  it("a command in a direct message with the bot answers in that DM's thread, and its buttons work there, where the lists permit", async () => {
    p = await startTestPipeline({ access: { ...ACCESS, allowedChannels: ['C1'], allowDirectMessages: true } });
    p.startWorker({ runnerFor });
    await p.send('pod pod-src', { channel: 'D0DM1', user: 'U3' });
    const parent = await until(() =>
      [...p!.standIn.messages.values()].find((m) => m.channel === 'D0DM1' && !m.thread_ts),
    );
    await until(
      () => /done/.test(JSON.stringify(p!.standIn.messages.get(`D0DM1/${parent.ts}`)?.blocks ?? '')),
      20_000,
      'pod done in the DM',
    );
    expect(p.threadCalls().every((c) => c.args.channel === 'D0DM1' && c.args.thread_ts === parent.ts)).toBe(true);
    await p.click(parent.ts, 'k8snet:policy', { channel: 'D0DM1', user: 'U3' });
    const followUp = await until(() =>
      [...p!.standIn.messages.values()].find(
        (m) =>
          m.channel === 'D0DM1' && m.thread_ts === parent.ts && JSON.stringify(m.blocks).includes('"type":"header"'),
      ),
    );
    await until(
      () => /done/.test(JSON.stringify(p!.standIn.messages.get(`D0DM1/${followUp.ts}`)?.blocks ?? '')),
      20_000,
      'policy done in the DM',
    );
    expect((await p.queue.getJob('j2'))?.data).toMatchObject({
      channel: 'D0DM1',
      threadId: parent.ts,
      user: 'U3',
      command: { op: 'policy', name: 'pod-src' },
    });
    // Another user not on the user list is refused in a DM as anywhere.
    await p.send('pod pod-src', { channel: 'D0DM2', user: 'U9' });
    await until(() => ephemerals(p!).some((a) => a.text.includes('not on the list of users')), 10_000, 'refusal');
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, completed: 2 });
  }, 60_000);
});
