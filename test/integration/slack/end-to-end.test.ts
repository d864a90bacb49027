/**
 * End to end, as in production: the `k8snet bot` and `k8snet worker` processes (the image's commands), the real
 * Redis, the lab's API server and sshd nodes, and the Slack stand-in receiving everything the bot and worker post.
 * Slash commands are signed as Slack signs them.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { LabState } from '../../../src/lab/state.ts';
import { startSlackStandIn, type SlackStandIn } from '../../../src/demo/slack-stand-in.ts';
import { signedSlashCommand } from '../../../src/slack/signing.ts';
import { startLab, stopLab } from '../../support/lab.ts';
import { BOT_TOKEN, REDIS_URL, SIGNING_SECRET, freePort, until } from '../../support/slack-pipeline.ts';
import { startK8snet, type K8snetProcess } from '../../../src/demo/k8snet-process.ts';
import { processEnv } from '../../support/k8snet-processes.ts';

const LAB = 'ite2e';
let lab: LabState;
let standIn: SlackStandIn;
let redis: Redis;
let prefix: string;
let botPort: number;
const processes: K8snetProcess[] = [];
const pod = (name: string) => lab.plan.pods.find((p) => p.name === name)!;
const node = (name: string) => lab.plan.nodes.find((n) => n.name === name)!;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return processEnv(standIn, prefix, { K8SNET_CAPTURE_USERS: 'U1', K8SNET_CAPTURE_SECONDS: '2', ...extra });
}

async function startBot(): Promise<K8snetProcess> {
  const bot = startK8snet(['bot'], env({ PORT: String(botPort) }));
  processes.push(bot);
  await bot.waitForLog('bot ready');
  return bot;
}

async function startWorker(extra: Record<string, string> = {}): Promise<K8snetProcess> {
  const worker = startK8snet(['worker', '--lab', LAB], env(extra));
  processes.push(worker);
  await worker.waitForLog('worker ready', 30_000);
  return worker;
}

async function send(text: string, user = 'U1'): Promise<{ status: number; ms: number }> {
  const { body, headers } = signedSlashCommand(SIGNING_SECRET, {
    command: '/k8snet',
    text,
    user_id: user,
    channel_id: 'C1',
    team_id: 'T1',
    response_url: standIn.responseUrl,
  });
  const started = Date.now();
  const res = await fetch(`http://127.0.0.1:${botPort}/slack/events`, { method: 'POST', headers, body });
  await res.text();
  return { status: res.status, ms: Date.now() - started };
}

/** The thread under the nth parent message, once its parent says done (or failed): parent blocks and replies. */
async function finishedThread(nth = 0, ms = 60_000): Promise<{ parent: string; replies: string[]; ts: string }> {
  const parent = await until(
    () => [...standIn.messages.values()].filter((m) => !m.thread_ts && m.channel === 'C1')[nth],
    ms,
    'parent message',
  );
  const ts = parent.ts;
  const final = await until(
    () => {
      const m = standIn.messages.get(`C1/${ts}`);
      const text = JSON.stringify(m?.blocks ?? '');
      return /done in|failed|stopped/.test(text) && text;
    },
    ms,
    `parent ${nth} done`,
  );
  const replies = standIn.calls
    .filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === ts)
    .map((c) => JSON.stringify(c.args.blocks));
  return { parent: final, replies, ts };
}

async function metrics(p: K8snetProcess, readyLog: 'bot ready' | 'worker ready'): Promise<string> {
  const ready = await p.waitForLog(readyLog);
  return (await fetch(`http://127.0.0.1:${String(ready.healthPort)}/metrics`)).text();
}

beforeAll(async () => {
  lab = await startLab(LAB);
  standIn = await startSlackStandIn({ botToken: BOT_TOKEN });
  redis = new Redis(REDIS_URL);
}, 120_000);
afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill('SIGKILL')));
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  standIn.calls.length = 0;
  standIn.arrivals.length = 0;
  standIn.messages.clear();
  standIn.uploads.clear();
});
afterAll(async () => {
  await redis?.quit();
  await standIn?.close();
  await stopLab(LAB);
}, 60_000);

beforeEach(async () => {
  prefix = `k8snet-e2e-${randomBytes(4).toString('hex')}`;
  botPort = await freePort();
});

describe('k8snet bot + k8snet worker on the lab', () => {
  it('answers /k8snet trace and /k8snet nodeport 31080 in their threads, and counts them in /metrics', async () => {
    const bot = await startBot();
    const worker = await startWorker();
    const ack = await send('trace pod-src pod-dest');
    expect(ack).toMatchObject({ status: 200 });
    expect(ack.ms).toBeLessThan(3000);
    const trace = await finishedThread(0);
    const all = trace.replies.join('\n');
    // The route line to the destination's block over the tunnel, both cali interfaces, the overlay, the capture.
    expect(all).toContain(
      `${node('k8s-node1').block} via ${node('k8s-node1').tunnelIP} dev vxlan.calico proto 80 onlink`,
    );
    expect(all).toContain(pod('pod-src').caliInterface);
    expect(all).toContain(pod('pod-dest').caliInterface);
    expect(all).toMatch(/VXLAN/);
    expect(all).toMatch(/vxlan\.calico/);
    expect(all).toContain(`${node('k8s-node2').ip} → ${node('k8s-node1').ip}`);
    expect(trace.parent).toMatch(/done in \d+\.\d s — asked by <@U1>/);
    expect(trace.parent).toContain('no problems found');
    expect(
      [...standIn.uploads.values()].some((u) => u.filename.endsWith('.pcap') && u.bytes.readUInt32LE(0) === 0xa1b2c3d4),
    ).toBe(true);

    expect((await send('nodeport 31080')).status).toBe(200);
    const nodeport = await finishedThread(1);
    expect(nodeport.parent).toContain('nodeport 31080');
    expect(nodeport.replies.join('\n')).toContain('--dport 31080');
    expect(nodeport.replies.join('\n')).toContain('default/svc-nodeport');

    const botMetrics = await metrics(bot, 'bot ready');
    expect(botMetrics).toContain('k8snet_commands_total{command="trace",result="queued"} 1');
    expect(botMetrics).toContain('k8snet_commands_total{command="nodeport",result="queued"} 1');
    const workerMetrics = await metrics(worker, 'worker ready');
    expect(workerMetrics).toContain('k8snet_job_duration_seconds_count{command="trace",result="done"} 1');
    expect(workerMetrics).toContain('k8snet_job_duration_seconds_count{command="nodeport",result="done"} 1');
    expect(workerMetrics).toMatch(/k8snet_capture_bytes_total\{node="k8s-node\d",interface="[^"]+"\} [1-9]/);
    expect(workerMetrics).toMatch(/k8snet_queue_jobs\{state="completed"\} 2/);

    // Probes: alive, and ready because Redis and Slack answer.
    for (const [p, log] of [
      [bot, 'bot ready'],
      [worker, 'worker ready'],
    ] as const) {
      const port = String((await p.waitForLog(log)).healthPort);
      expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text()).toBe('ok\n');
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([
        200,
        { ready: true, shuttingDown: false, checks: { redis: 'ok', slack: 'ok' } },
      ]);
    }
    // JSON logs: every line of a job names the job, the command and the user; no line holds a secret.
    const jobLines = worker.logs.filter((l) => l.jobId !== undefined);
    expect(jobLines.length).toBeGreaterThan(4);
    for (const l of jobLines)
      expect(l).toMatchObject({
        jobId: expect.stringMatching(/^j\d+$/),
        command: expect.stringMatching(/^(trace|nodeport)$/),
        user: 'U1',
      });
    const everything = JSON.stringify([...bot.logs, ...worker.logs, bot.stderr, worker.stderr]);
    expect(everything).not.toContain(BOT_TOKEN);
    expect(everything).not.toContain(SIGNING_SECRET);
  }, 120_000);

  it('survives a SIGKILLed worker: another worker finishes the job and every reply appears exactly once', async () => {
    await startBot();
    const fast = { K8SNET_JOB_LOCK_SECONDS: '3', K8SNET_STALLED_CHECK_SECONDS: '1' };
    const first = await startWorker(fast);
    // Hold the worker at its first file upload, after the thread replies were posted, then kill it there.
    standIn.delay('files.getUploadURLExternal', 10_000);
    await send('trace pod-src pod-dest');
    await until(() => standIn.arrivals.includes('files.getUploadURLExternal'), 60_000, 'first upload');
    const repliesBeforeKill = standIn.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts).length;
    expect(repliesBeforeKill).toBeGreaterThan(0);
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
    standIn.delay('files.getUploadURLExternal', 0);
    await startWorker(fast);
    const thread = await finishedThread(0, 90_000);
    expect(thread.parent).toContain('done in');
    expect(thread.replies.length).toBe(repliesBeforeKill);
    expect(new Set(thread.replies).size).toBe(thread.replies.length);
    // Each file went up once (the killed worker's upload never completed).
    const completed = standIn.calls
      .filter((c) => c.method === 'files.completeUploadExternal')
      .flatMap((c) => (c.args.files as { title?: string }[]).map((f) => f.title));
    expect(new Set(completed).size).toBe(completed.length);
    expect(completed.length).toBeGreaterThan(0);
  }, 150_000);

  it('a job waiting while Redis restarts (AOF) still runs, and the bot keeps queueing after the restart', async () => {
    const { startPrivateRedis } = await import('../../../src/demo/private-redis.ts');
    const privateRedis = await startPrivateRedis();
    try {
      const url = privateRedis.url;
      const bot = startK8snet(['bot'], env({ PORT: String(botPort), REDIS_URL: url }));
      processes.push(bot);
      await bot.waitForLog('bot ready');
      await send('routes k8s-node1');
      await until(() => standIn.calls.some((c) => c.method === 'chat.postMessage'), 10_000, 'parent');
      await privateRedis.restart();
      await send('routes k8s-node2');
      const worker = startK8snet(['worker', '--lab', LAB], env({ REDIS_URL: url }));
      processes.push(worker);
      const first = await finishedThread(0);
      const second = await finishedThread(1);
      expect(first.parent).toContain('done in');
      expect(first.replies.join('\n')).toContain('k8s-node1');
      expect(second.parent).toContain('done in');
      expect(second.replies.join('\n')).toContain('k8s-node2');
    } finally {
      await Promise.all(processes.splice(0).map((p) => p.kill('SIGKILL')));
      await privateRedis.stop();
    }
  }, 120_000);

  it('SIGTERM during a job: the worker hands the job back and exits 0; the next worker finishes it, nothing lost or doubled', async () => {
    await startBot();
    const first = await startWorker({ K8SNET_SHUTDOWN_GRACE_SECONDS: '1' });
    await send('trace pod-src pod-dest --capture-seconds 8');
    await until(
      () => first.logs.some((l) => l.msg === 'step' && String(l.step).startsWith('capturing')),
      60_000,
      'capture started',
    );
    expect(await first.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(first.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down', 'grace period over: handing running jobs back to the queue', 'stopped']),
    );
    await until(
      () => JSON.stringify([...standIn.messages.values()][0]?.blocks ?? '').includes('queued again'),
      10_000,
      'parent says queued again',
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: ${JSON.stringify([...standIn.messages.values()])} ${JSON.stringify(first.logs.slice(-8))}`,
      );
    });
    await startWorker();
    const thread = await finishedThread(0, 90_000);
    expect(thread.parent).toContain('done in');
    expect(new Set(thread.replies).size).toBe(thread.replies.length);
    expect(
      standIn.calls.filter(
        (c) => c.method === 'chat.postMessage' && c.args.thread_ts && String(c.args.text).startsWith('failed'),
      ),
    ).toEqual([]);
  }, 150_000);
});
