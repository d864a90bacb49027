/**
 * Buttons end to end, as in production: `k8snet bot` and `k8snet worker` processes, the real Redis, the lab's API
 * server and sshd nodes, the Slack stand-in clicking as Slack does. A trace, "Capture again (10 s)" by another
 * allowed user, then "Evidence bundle": jobs in one thread, each reply once, and the bundle (opened with tar) holds
 * exactly commands the nodes' sshd logged as run.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startSlackStandIn, type SlackStandIn } from '../../../src/demo/slack-stand-in.ts';
import { signedSlashCommand } from '../../../src/slack/signing.ts';
import { startK8snet, type K8snetProcess } from '../../../src/demo/k8snet-process.ts';
import { nodeCommandLog } from '../../../src/lab/sshd.ts';
import { labPaths } from '../../../src/lab/state.ts';
import { startLab, stopLab } from '../../support/lab.ts';
import { processEnv } from '../../support/k8snet-processes.ts';
import { BOT_TOKEN, REDIS_URL, SIGNING_SECRET, freePort, until } from '../../support/slack-pipeline.ts';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';

const bin = fileURLToPath(new URL('../../../bin/k8snet.js', import.meta.url));

const LAB = 'cfbtn';
let standIn: SlackStandIn;
let redis: Redis;
const prefix = `k8snet-cf-${randomBytes(4).toString('hex')}`;
let botPort: number;
const processes: K8snetProcess[] = [];

beforeAll(async () => {
  await startLab(LAB);
  standIn = await startSlackStandIn({ botToken: BOT_TOKEN });
  redis = new Redis(REDIS_URL);
  botPort = await freePort();
  const env = {
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SIGNING_SECRET,
    SLACK_API_URL: standIn.apiUrl,
    REDIS_URL,
    K8SNET_QUEUE_PREFIX: prefix,
    K8SNET_ALLOWED_USERS: 'U1,U2,U3',
    K8SNET_CAPTURE_USERS: 'U1,U2',
    K8SNET_CAPTURE_SECONDS: '2',
    K8SNET_HEALTH_PORT: '0',
    LOG_LEVEL: 'info',
  };
  const bot = startK8snet(['bot'], { ...env, PORT: String(botPort) });
  const worker = startK8snet(['worker', '--lab', LAB], env);
  processes.push(bot, worker);
  await bot.waitForLog('bot ready');
  await worker.waitForLog('worker ready', 30_000);
}, 180_000);
afterAll(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  const keys = (await redis?.keys(`${prefix}:*`)) ?? [];
  if (keys.length > 0) await redis.del(...keys);
  await redis?.quit();
  await standIn?.close();
  await stopLab(LAB);
}, 60_000);

const click = (ts: string, actionId: string, user: string) =>
  standIn.click({
    url: `http://127.0.0.1:${botPort}/slack/events`,
    signingSecret: SIGNING_SECRET,
    channel: 'C1',
    ts,
    actionId,
    user,
  });
const blocks = (ts: string) => JSON.stringify(standIn.messages.get(`C1/${ts}`)?.blocks ?? '');
const finished = (ts: string) => until(() => /done in|done:/.test(blocks(ts)), 90_000, `job at ${ts} done`);
const followUp = (threadTs: string, nth: number) =>
  until(
    () =>
      [...standIn.messages.values()].filter(
        (m) => m.thread_ts === threadTs && blocks(m.ts).includes('"type":"header"'),
      )[nth],
    10_000,
    `follow-up ${nth}`,
  );

describe('buttons on the lab', () => {
  it('trace → "Capture again (10 s)" by U2 → "Evidence bundle": one thread, each reply once, the bundle holds what the nodes ran', async () => {
    const { body, headers } = signedSlashCommand(SIGNING_SECRET, {
      command: '/k8snet',
      text: 'trace pod-src pod-dest',
      user_id: 'U1',
      channel_id: 'C1',
      team_id: 'T1',
      response_url: standIn.responseUrl,
    });
    expect((await fetch(`http://127.0.0.1:${botPort}/slack/events`, { method: 'POST', headers, body })).status).toBe(
      200,
    );
    const first = await until(
      () => [...standIn.messages.values()].find((m) => !m.thread_ts && m.channel === 'C1'),
      10_000,
      'parent',
    );
    await finished(first.ts);
    expect(blocks(first.ts)).toContain('Capture again (10 s)');

    // Not on the capture list: refused privately, nothing queued.
    await click(first.ts, 'k8snet:capture_again', 'U3');
    await until(
      () =>
        standIn.calls.some(
          (c) => c.method === 'response_url' && String(c.args.text).includes('you may not capture packets'),
        ),
      10_000,
      'refusal',
    );

    const ack = await click(first.ts, 'k8snet:capture_again', 'U2');
    expect(ack.status).toBe(200);
    expect(ack.ms).toBeLessThan(3000);
    const second = await followUp(first.ts, 0);
    await finished(second.ts);
    expect(blocks(second.ts)).toContain('asked by <@U2>');

    await click(second.ts, 'k8snet:bundle', 'U1');
    const bundleParent = await followUp(first.ts, 1);
    await finished(bundleParent.ts);
    const upload = [...standIn.uploads.values()].find((u) => u.filename === 'k8snet-evidence-2.tar.gz')!;
    expect(upload.bytes.length).toBeGreaterThan(100);

    // One thread; every reply posted once.
    const replies = standIn.calls.filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts);
    expect(new Set(replies.map((c) => c.args.thread_ts))).toEqual(new Set([first.ts]));
    // Two traces of one path may answer alike, so count instead: each job's replies as its delivery ledger recorded
    // them, plus the two parents the bot posted for the clicks — nothing posted twice.
    const ledgered = async (job: string) =>
      Object.keys(await redis.hgetall(`${prefix}:{k8snet}-ledger:${job}`)).filter((k) => k.startsWith('reply:')).length;
    const [r1, r2] = [await ledgered('j1'), await ledgered('j2')];
    expect(r1).toBeGreaterThan(2);
    expect(replies.length).toBe(r1 + r2 + 2);
    expect(
      standIn.calls.filter(
        (c) => c.method === 'files.completeUploadExternal' && JSON.stringify(c.args).includes('evidence of job 2'),
      ),
    ).toHaveLength(1);

    const dir = mkdtempSync(join(tmpdir(), 'cf-lab-bundle-'));
    try {
      writeFileSync(join(dir, 'b.tar.gz'), upload.bytes);
      execFileSync('tar', ['-xzf', join(dir, 'b.tar.gz'), '-C', dir]);
      const root = join(dir, 'k8snet-evidence-j2');
      const rows = readFileSync(join(root, 'commands.tsv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split('\t'));
      expect(rows.length).toBeGreaterThan(5);
      const logs = Object.fromEntries(
        ['k8s-node1', 'k8s-node2'].map((n) => [n, readFileSync(nodeCommandLog(labPaths(LAB), n), 'utf8')]),
      );
      // Every command the bundle lists is one the node's sshd logged (the argv, quoted, inside the timeout wrapper).
      for (const [, node, , , , command] of rows)
        expect([node, command, logs[node!]?.includes(command!)]).toEqual([node, command, true]);
      expect(rows.some((r) => r[5]!.startsWith('tcpdump'))).toBe(true);
      expect(readFileSync(join(root, 'README.txt'), 'utf8')).toContain('--capture-seconds 10');
      expect(execFileSync('ls', [join(root, 'captures')], { encoding: 'utf8' })).toMatch(/\.pcap/);
      expect(readFileSync(join(root, 'cluster', '001-getPod.yaml'), 'utf8')).toContain('pod-src');
      const all = execFileSync(
        'cat',
        execFileSync('find', [root, '-type', 'f'], { encoding: 'utf8' }).trim().split('\n'),
        { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 },
      );
      for (const secret of [BOT_TOKEN, SIGNING_SECRET, 'PRIVATE KEY']) expect(all).not.toContain(secret);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);

  it('k8snet pod … --bundle FILE in a terminal writes the same bundle, with the commands the nodes logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-cli-bundle-'));
    try {
      const file = join(dir, 'pod.tar.gz');
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [bin, 'pod', 'pod-src', '--lab', LAB, '--bundle', file, '-q'],
          { env: { ...process.env, NO_COLOR: '1', SLACK_BOT_TOKEN: BOT_TOKEN }, timeout: 60_000 },
          (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
        );
      });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /evidence bundle: .*pod\.tar\.gz \(\d+ bytes, \d+ node commands, \d+ Kubernetes reads\)/,
      );
      execFileSync('tar', ['-xzf', file, '-C', dir]);
      const root = join(dir, 'k8snet-evidence-terminal');
      const rows = readFileSync(join(root, 'commands.tsv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split('\t'));
      expect(rows.length).toBeGreaterThan(0);
      const logs = Object.fromEntries(
        ['k8s-node1', 'k8s-node2'].map((n) => [n, readFileSync(nodeCommandLog(labPaths(LAB), n), 'utf8')]),
      );
      for (const [, node, , , , command] of rows)
        expect([node, command, logs[node!]?.includes(command!)]).toEqual([node, command, true]);
      expect(readFileSync(join(root, 'README.txt'), 'utf8')).toContain('command:   pod pod-src');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("many clusters with real processes: a bot with a clusters file, `k8snet worker --cluster cflab` using only that file's settings; the job waits, says so, then runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cf-clusters-'));
    const paths = labPaths(LAB);
    writeFileSync(
      join(dir, 'clusters.yaml'),
      `clusters:\n  cflab:\n    kubeconfig: ${paths.kubeconfig}\n    ssh: { user: root, key: ${paths.clientKey}, knownHosts: ${paths.knownHosts} }\n    capture: { defaultSeconds: 1, maxSeconds: 3 }\n    channels: [C7]\n`,
    );
    const port = await freePort();
    const common = processEnv(standIn, prefix, { K8SNET_CLUSTERS_FILE: join(dir, 'clusters.yaml') });
    try {
      const bot = startK8snet(['bot'], { ...common, PORT: String(port) });
      processes.push(bot);
      expect((await bot.waitForLog('bot ready')).clusters).toEqual(['cflab']);
      const { body, headers } = signedSlashCommand(SIGNING_SECRET, {
        command: '/k8snet',
        text: 'routes k8s-node1',
        user_id: 'U1',
        channel_id: 'C7',
        team_id: 'T1',
        response_url: standIn.responseUrl,
      });
      expect((await fetch(`http://127.0.0.1:${port}/slack/events`, { method: 'POST', headers, body })).status).toBe(
        200,
      );
      const parent = await until(
        () => [...standIn.messages.values()].find((m) => m.channel === 'C7' && !m.thread_ts),
        10_000,
        'parent in C7',
      );
      await until(
        () =>
          standIn.calls.some(
            (c) =>
              c.method === 'chat.postMessage' &&
              c.args.thread_ts === parent.ts &&
              JSON.stringify(c.args.blocks).includes('No worker is running for cluster `cflab`'),
          ),
        10_000,
        'no-worker notice',
      );
      // No KUBECONFIG or K8SNET_SSH_* in its environment: everything comes from the clusters file.
      const worker = startK8snet(['worker', '--cluster', 'cflab'], common);
      processes.push(worker);
      expect(await worker.waitForLog('worker ready', 30_000)).toMatchObject({
        cluster: 'cflab',
        queue: '{k8snet}-inspections-cflab',
      });
      await until(
        () => /done in/.test(JSON.stringify(standIn.messages.get(`C7/${parent.ts}`)?.blocks ?? '')),
        60_000,
        'routes done on cflab',
      );
      const replies = standIn.calls
        .filter((c) => c.method === 'chat.postMessage' && c.args.thread_ts === parent.ts)
        .map((c) => JSON.stringify(c.args.blocks))
        .join('\n');
      expect(replies).toContain('vxlan.calico');
      // Its buttons stay on the cluster.
      const rerun = (
        (standIn.messages.get(`C7/${parent.ts}`)?.blocks ?? []) as {
          type: string;
          elements?: { action_id: string; value: string }[];
        }[]
      )
        .flatMap((b) => b.elements ?? [])
        .find((e) => e.action_id === 'k8snet:rerun')!;
      expect(Buffer.from(rerun.value.split('.')[3]!, 'base64url').toString()).toBe('routes k8s-node1 --cluster cflab');
      await worker.kill('SIGTERM');
      await bot.kill('SIGTERM');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
