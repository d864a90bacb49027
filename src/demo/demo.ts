/**
 * `k8snet demo`: the whole product on one machine without Slack. Brings up the lab (or uses the one that is up),
 * uses the machine's Redis (or starts a private one), starts the Slack stand-in, `k8snet bot` and `k8snet worker`
 * as real processes, sends a signed `/k8snet trace pod-src pod-dest` and prints the thread as a person would read
 * it in Slack. Everything it started is torn down at the end (Ctrl-C, or at once with --once).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describeError } from '../errors.ts';
import { labStatus } from '../lab/lab-status.ts';
import { labUp } from '../lab/lab-up.ts';
import { labDown } from '../lab/lab-down.ts';
import { DEFAULT_TOPOLOGY_PATH } from '../lab/topology.ts';
import { startSlackStandIn, type SlackStandIn } from './slack-stand-in.ts';
import { signedSlashCommand } from '../slack/signing.ts';
import { startK8snet, type K8snetProcess } from './k8snet-process.ts';
import { redisAnswers, startPrivateRedis, type PrivateRedis } from './private-redis.ts';
import { renderTranscript } from './slack-transcript.ts';
import { freePort, until } from './wait.ts';

export interface DemoOptions {
  lab: string;
  /** The slash command's text. */
  text: string;
  /** Tear down as soon as the thread is complete instead of waiting for Ctrl-C. */
  once: boolean;
  redisUrl: string;
  print(line: string): void;
  /** Resolves when the user asks to stop (Ctrl-C). */
  stopRequested: Promise<void>;
}

/** Demo users and channel, as Slack would name them. */
const USER = 'U0DEMO0001';
const CHANNEL = 'C0DEMO0001';
const THREAD_TIMEOUT_MS = 120_000;

function statusOf(standIn: SlackStandIn, ts: string): string {
  const blocks = standIn.messages.get(`${CHANNEL}/${ts}`)?.blocks as
    { type: string; elements?: { text: string }[] }[] | undefined;
  return blocks?.find((b) => b.type === 'context')?.elements?.[0]?.text.replace(/ — asked by .*$/, '') ?? '';
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const { print } = options;
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    const status = await labStatus(options.lab);
    if (status.up && status.apiServer.running && status.nodes.every((n) => n.sshd)) {
      print(`lab "${options.lab}" is up: using it`);
    } else {
      print(
        `bringing up lab "${options.lab}" (nodes and pods as network namespaces, sshd per node, VXLAN, kube-proxy rules, API server)…`,
      );
      await labDown({ lab: options.lab });
      await labUp({ lab: options.lab, topologyPath: DEFAULT_TOPOLOGY_PATH });
      cleanups.unshift(() => labDown({ lab: options.lab }));
    }

    let redisUrl = options.redisUrl;
    if (await redisAnswers(redisUrl)) {
      print(
        `Redis at ${redisUrl.replace(/\/\/[^@]*@/, '//')}: using it (keys under a prefix of the demo's own, deleted at the end)`,
      );
    } else {
      const own: PrivateRedis = await startPrivateRedis();
      cleanups.unshift(() => own.stop());
      redisUrl = own.url;
      print(`no Redis answered: started a private one at ${redisUrl}`);
    }
    const prefix = `k8snet-demo-${randomBytes(4).toString('hex')}`;
    cleanups.unshift(async () => {
      const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    const botToken = `xoxb-demo-${randomBytes(8).toString('hex')}`;
    const signingSecret = randomBytes(16).toString('hex');
    const standIn = await startSlackStandIn({ botToken });
    cleanups.unshift(() => standIn.close());
    const port = await freePort();
    const env = {
      SLACK_BOT_TOKEN: botToken,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_API_URL: standIn.apiUrl,
      REDIS_URL: redisUrl,
      K8SNET_QUEUE_PREFIX: prefix,
      K8SNET_CAPTURE_USERS: USER,
      K8SNET_HEALTH_PORT: '0',
      LOG_LEVEL: 'warn',
    };
    const processes: K8snetProcess[] = [
      startK8snet(['bot'], { ...env, PORT: String(port), LOG_LEVEL: 'info' }),
      startK8snet(['worker', '--lab', options.lab], { ...env, LOG_LEVEL: 'info' }),
    ];
    cleanups.unshift(() => Promise.all(processes.map((p) => p.kill('SIGTERM'))));
    await Promise.all([
      processes[0]!.waitForLog('bot ready', 30_000),
      processes[1]!.waitForLog('worker ready', 30_000),
    ]);
    print(`Slack stand-in at ${standIn.apiUrl}; k8snet bot on :${port}, one k8snet worker`);

    print('');
    print(`/k8snet ${options.text}`);
    const { body, headers } = signedSlashCommand(signingSecret, {
      command: '/k8snet',
      text: options.text,
      user_id: USER,
      user_name: 'demo',
      channel_id: CHANNEL,
      channel_name: 'demo',
      team_id: 'T0DEMO0001',
      response_url: standIn.responseUrl,
    });
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', headers, body });
    const ackBody = await res.text();
    print(`  acknowledged by the bot in ${Date.now() - started} ms (HTTP ${res.status})`);
    if (ackBody) {
      // A refusal (bad input) comes back in the acknowledgement itself.
      print(`  ${(JSON.parse(ackBody) as { text?: string }).text ?? ackBody}`);
      return 2;
    }
    const parent = await until(
      () => [...standIn.messages.values()].find((m) => m.channel === CHANNEL && !m.thread_ts),
      10_000,
      'the parent message',
    );
    let shown = '';
    const final = await until(
      () => {
        const s = statusOf(standIn, parent.ts);
        if (s && s !== shown) {
          shown = s;
          print(`  parent message: ${s}`);
        }
        return /^(done|failed|stopped|cancelled)/.test(s) && s;
      },
      THREAD_TIMEOUT_MS,
      'the job',
    );
    print('');
    print('What the channel sees:');
    print('');
    const replies = [...standIn.messages.values()].filter((m) => m.thread_ts === parent.ts);
    const files = [...standIn.uploads.values()].map((u) => ({
      filename: u.filename,
      ...(u.title ? { title: u.title } : {}),
      bytes: u.bytes.length,
    }));
    print(renderTranscript(standIn.messages.get(`${CHANNEL}/${parent.ts}`)!, replies, files));
    if (!options.once) {
      print('Ctrl-C tears everything down.');
      await options.stopRequested;
    }
    return final.startsWith('done') ? 0 : 1;
  } catch (err) {
    print(`k8snet demo: ${describeError(err)}`);
    return 1;
  } finally {
    print('tearing down…');
    for (const cleanup of cleanups)
      await cleanup().catch((err: unknown) => print(`  (cleanup: ${describeError(err)})`));
  }
}
