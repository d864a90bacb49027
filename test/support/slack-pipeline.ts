/**
 * An in-process pipeline for tests: the Slack stand-in, the bot (Bolt's HTTP receiver), a queue and worker hosts
 * on the real Redis under a key prefix of their own, and a way to send signed slash commands. Everything it
 * starts is closed and every key it made is deleted by `close()`.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startSlackStandIn, type SlackStandIn } from '../../src/demo/slack-stand-in.ts';
import { signedSlashCommand } from '../../src/slack/signing.ts';
import { startBot, type BotHandle, type BotOptions } from '../../src/slack/bot.ts';
import { createInspectionQueue } from '../../src/queue/jobs.ts';
import { startWorkerHost, type WorkerHost, type WorkerHostOptions } from '../../src/queue/worker-host.ts';
import { AuditTrail } from '../../src/audit/audit-trail.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics, type K8snetMetrics } from '../../src/observability/metrics.ts';
import { createSlackClient } from '../../src/slack/slack-client.ts';
import { slackReporter } from '../../src/slack/slack-reporter.ts';
import { deriveActionKey } from '../../src/slack/action-value.ts';
import type { AccessSettings } from '../../src/config.ts';
import { freePort } from '../../src/demo/wait.ts';

export { freePort, until } from '../../src/demo/wait.ts';

export const BOT_TOKEN = 'xoxb-test-token';
export const SIGNING_SECRET = 'test-signing-secret';
export const REDIS_URL = process.env.K8SNET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface SendOptions {
  user?: string;
  channel?: string;
  secret?: string;
  /** Seconds to back-date the request timestamp. */
  age?: number;
}

export interface TestPipeline {
  prefix: string;
  standIn: SlackStandIn;
  bot: BotHandle;
  queue: ReturnType<typeof createInspectionQueue>;
  redis: Redis;
  audit: AuditTrail;
  metrics: K8snetMetrics;
  send(text: string, options?: SendOptions): Promise<{ status: number; body: string; ms: number }>;
  /** A click on a button of a message (found by its ts) as Slack sends it; `value` replaces the button's value. */
  click(
    ts: string,
    actionId: string,
    options?: SendOptions & { value?: string },
  ): Promise<{ status: number; body: string; ms: number }>;
  /** Starts a worker host (in this process) with the given runner factory and settings. */
  startWorker(
    options: Pick<WorkerHostOptions, 'runnerFor'> & Partial<Omit<WorkerHostOptions, 'runnerFor'>>,
  ): WorkerHost;
  /** Thread replies (chat.postMessage with thread_ts) as recorded by the stand-in. */
  threadCalls(): { method: string; args: Record<string, unknown> }[];
  close(): Promise<void>;
}

export const OPEN_ACCESS: AccessSettings = {
  allowedChannels: [],
  allowedUsers: [],
  captureUsers: ['U1'],
  auditChannel: undefined,
};

export async function startTestPipeline(
  options: {
    access?: AccessSettings;
    standIn?: SlackStandIn;
    prefix?: string;
    schedules?: BotOptions['schedules'];
    clusters?: BotOptions['clusters'];
  } = {},
): Promise<TestPipeline> {
  const prefix = options.prefix ?? `k8snet-test-${randomBytes(4).toString('hex')}`;
  const standIn = options.standIn ?? (await startSlackStandIn({ botToken: BOT_TOKEN }));
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const connections: Redis[] = [redis];
  const queue = createInspectionQueue(redis, prefix);
  const log = createLogger({ level: process.env.K8SNET_TEST_LOG ?? 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const audit = new AuditTrail(redis, prefix);
  const port = await freePort();
  const bot = await startBot({
    slack: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, appToken: undefined, apiUrl: standIn.apiUrl, port },
    access: options.access ?? OPEN_ACCESS,
    capture: { defaultSeconds: 2, maxSeconds: 30 },
    queue,
    redis,
    prefix,
    audit,
    metrics,
    log,
    ...(options.schedules ? { schedules: options.schedules } : {}),
    ...(options.clusters ? { clusters: options.clusters } : {}),
  });
  const workers: WorkerHost[] = [];
  return {
    prefix,
    standIn,
    bot,
    queue,
    redis,
    audit,
    metrics,
    async send(text, o = {}) {
      const { body, headers } = signedSlashCommand(
        o.secret ?? SIGNING_SECRET,
        {
          command: '/k8snet',
          text,
          user_id: o.user ?? 'U1',
          channel_id: o.channel ?? 'C1',
          team_id: 'T1',
          response_url: standIn.responseUrl,
        },
        Math.floor(Date.now() / 1000) - (o.age ?? 0),
      );
      const started = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', headers, body });
      return { status: res.status, body: await res.text(), ms: Date.now() - started };
    },
    click(ts, actionId, o = {}) {
      return standIn.click({
        url: `http://127.0.0.1:${port}/slack/events`,
        signingSecret: o.secret ?? SIGNING_SECRET,
        channel: o.channel ?? 'C1',
        ts,
        actionId,
        user: o.user ?? 'U1',
        ...(o.value !== undefined ? { value: o.value } : {}),
        ...(o.age !== undefined ? { age: o.age } : {}),
      });
    },
    startWorker(o) {
      const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const subscriber = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      connections.push(connection, subscriber);
      const host = startWorkerHost({
        connection,
        subscriber,
        prefix,
        chat: slackReporter(createSlackClient({ botToken: BOT_TOKEN, apiUrl: standIn.apiUrl }, 5), {
          key: deriveActionKey(SIGNING_SECRET),
          bounds: { defaultSeconds: 2, maxSeconds: 30 },
        }),
        secrets: [BOT_TOKEN, SIGNING_SECRET],
        settings: {
          concurrency: 2,
          jobTimeoutMs: 30_000,
          lockDurationMs: 30_000,
          stalledIntervalMs: 30_000,
          shutdownGraceMs: 5000,
        },
        audit,
        metrics,
        log,
        ...o,
      });
      workers.push(host);
      return host;
    },
    threadCalls: () => standIn.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts),
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await bot.close();
      await queue.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await Promise.all(connections.map((c) => c.quit()));
      if (!options.standIn) await standIn.close();
    },
  };
}
