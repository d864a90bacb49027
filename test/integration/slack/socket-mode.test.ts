/**
 * `/k8snet` over Socket Mode: the real Bolt SocketModeReceiver (undici WebSocket) against the stand-in's Socket Mode
 * server — apps.connections.open with the app token, `hello`, a `slash_commands` envelope, the acknowledgement —
 * with the queue on the real Redis under a prefix of its own.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import { startSlackStandIn, type SlackStandIn } from '../../../src/demo/slack-stand-in.ts';
import { startBot, type BotHandle } from '../../../src/slack/bot.ts';
import { createInspectionQueue } from '../../../src/queue/jobs.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { BOT_TOKEN, OPEN_ACCESS, REDIS_URL, until } from '../../support/slack-pipeline.ts';

const APP_TOKEN = 'xapp-1-A0STANDIN-1-test';

interface SocketPipeline {
  standIn: SlackStandIn;
  bot: BotHandle;
  queue: ReturnType<typeof createInspectionQueue>;
  close(): Promise<void>;
}

async function startSocketPipeline(): Promise<SocketPipeline> {
  const prefix = `k8snet-test-${randomBytes(4).toString('hex')}`;
  const standIn = await startSlackStandIn({ botToken: BOT_TOKEN, appToken: APP_TOKEN });
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = createInspectionQueue(redis, prefix);
  const bot = await startBot({
    slack: {
      botToken: BOT_TOKEN,
      signingSecret: 'unused-in-socket-mode',
      appToken: APP_TOKEN,
      apiUrl: standIn.apiUrl,
      port: 0,
    },
    access: OPEN_ACCESS,
    capture: { defaultSeconds: 2, maxSeconds: 30 },
    queue,
    redis,
    prefix,
    log: createLogger({ level: process.env.K8SNET_TEST_LOG ?? 'silent' }),
  });
  return {
    standIn,
    bot,
    queue,
    async close() {
      await bot.close();
      await queue.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      await standIn.close();
    },
  };
}

const command = (text: string, standIn: SlackStandIn) => ({
  command: '/k8snet',
  text,
  user_id: 'U1',
  channel_id: 'C1',
  team_id: 'T1',
  response_url: standIn.responseUrl,
});

let p: SocketPipeline | null = null;
afterEach(async () => {
  await p?.close();
  p = null;
});

describe('/k8snet over Socket Mode', () => {
  it('connects with the app token through apps.connections.open and the hello message', async () => {
    p = await startSocketPipeline();
    await p.standIn.socketConnected();
    const open = p.standIn.calls.filter((c) => c.method === 'apps.connections.open');
    expect(open).toHaveLength(1);
    // The app token opened the socket; the bot token did everything else.
    expect(p.standIn.calls.map((c) => c.method)).toContain('auth.test');
    // As on Slack: only an app-level token in the Authorization header opens a socket, and a ticket is used once.
    const openWith = async (token: string) =>
      (await (
        await fetch(`${p!.standIn.apiUrl}apps.connections.open`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as { ok: boolean; error?: string };
    expect(await openWith(BOT_TOKEN)).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect(await openWith('xapp-1-wrong')).toEqual({ ok: false, error: 'invalid_auth' });
    const used = new URL(
      String(
        (
          (await (
            await fetch(`${p.standIn.apiUrl}apps.connections.open`, {
              method: 'POST',
              headers: { authorization: `Bearer ${APP_TOKEN}` },
            })
          ).json()) as { url: string }
        ).url,
      ),
    );
    expect(used.protocol).toBe('ws:');
    const first = new WebSocket(used);
    const hello = await new Promise<Record<string, unknown>>((resolve) =>
      first.once('message', (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)),
    );
    expect(hello).toMatchObject({ type: 'hello', connection_info: { app_id: expect.any(String) }, num_connections: 2 });
    first.close();
    const again = await new Promise<number>((resolve) => {
      const ws = new WebSocket(used);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(again).toBe(401);
  });

  it('acknowledges a valid command with an empty payload, posts the parent message and queues the job', async () => {
    p = await startSocketPipeline();
    await p.standIn.socketConnected();
    const ack = await p.standIn.deliverSlashCommand(command('trace pod-src pod-dest --no-capture', p.standIn));
    expect(ack.payload ?? {}).toEqual({});
    expect(ack.ms).toBeLessThan(3000);
    const parent = await until(() =>
      p!.standIn.calls.find((c) => c.method === 'chat.postMessage' && !c.args.thread_ts),
    );
    expect(parent.args.channel).toBe('C1');
    expect(JSON.stringify(parent.args.blocks)).toContain('queued as job 1 — asked by <@U1>');
    await until(async () => (await p!.queue.getJobCounts()).waiting === 1, 10_000, 'job queued');
    const job = await p.queue.getJob('j1');
    expect(job?.data).toMatchObject({
      channel: 'C1',
      user: 'U1',
      parentId: [...p.standIn.messages.values()][0]!.ts,
      command: { op: 'trace' },
    });
  });

  it('answers a bad command in the acknowledgement itself (ephemeral) and queues nothing', async () => {
    p = await startSocketPipeline();
    await p.standIn.socketConnected();
    const ack = await p.standIn.deliverSlashCommand(command('frobnicate', p.standIn));
    expect(ack.payload).toMatchObject({ response_type: 'ephemeral' });
    expect(String(ack.payload?.text)).toContain('unknown command "frobnicate"');
    expect(String(ack.payload?.text)).toContain('/k8snet trace SRC-POD DST-POD');
    const hostile = await p.standIn.deliverSlashCommand(command('trace "pod;reboot" pod-dest', p.standIn));
    expect(String(hostile.payload?.text)).toContain('is not a valid name');
    expect(p.standIn.socketAcks.map((a) => a.envelope_id)).toEqual([ack.envelope_id, hostile.envelope_id]);
    expect(await p.queue.getJobCounts()).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
    expect(p.standIn.calls.filter((c) => c.method === 'chat.postMessage')).toEqual([]);
  });

  it('reconnects through a fresh apps.connections.open when Slack sends disconnect, and keeps answering', async () => {
    p = await startSocketPipeline();
    await p.standIn.socketConnected();
    p.standIn.disconnectSockets('refresh_requested');
    await until(
      () => p!.standIn.calls.filter((c) => c.method === 'apps.connections.open').length === 2,
      15_000,
      'reconnected',
    );
    await p.standIn.socketConnected();
    const ack = await p.standIn.deliverSlashCommand(command('help', p.standIn));
    expect(String(ack.payload?.text)).toContain('/k8snet trace SRC-POD DST-POD');
  });

  it('takes a button click as an interactive envelope, acknowledged within 3 s, and acts on it', async () => {
    p = await startSocketPipeline();
    await p.standIn.socketConnected();
    await p.standIn.deliverSlashCommand(command('routes k8s-node1', p.standIn));
    const parent = await until(() =>
      [...p!.standIn.messages.values()].find((m) => JSON.stringify(m.blocks ?? '').includes('k8snet:cancel')),
    );
    const ack = await p.standIn.deliverClick({ channel: 'C1', ts: parent.ts, actionId: 'k8snet:cancel', user: 'U1' });
    expect(ack.ms).toBeLessThan(3000);
    const answer = await until(() => p!.standIn.calls.find((c) => c.method === 'response_url'));
    expect(answer.args).toEqual({
      response_type: 'ephemeral',
      replace_original: false,
      text: 'Job 1 was cancelled before it started.',
    });
    expect(await p.queue.getJob('j1')).toBeUndefined();
  });
});
