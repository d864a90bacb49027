/**
 * `k8snet bot` and `k8snet worker` started on one host with their default health ports both start (bot 9464,
 * worker 9465); a second worker there falls back to a free port and says which; a port that was set and is taken
 * stops start-up naming the variable.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { startSlackStandIn, type SlackStandIn } from '../../../src/demo/slack-stand-in.ts';
import { startK8snet, type K8snetProcess } from '../../../src/demo/k8snet-process.ts';
import { freePort, REDIS_URL } from '../../support/slack-pipeline.ts';

const processes: K8snetProcess[] = [];
let standIn: SlackStandIn | null = null;
let dir = '';
const prefix = `k8snet-cf-ports-${randomBytes(4).toString('hex')}`;

afterEach(async () => {
  await Promise.all(processes.splice(0).map((p) => p.kill('SIGKILL')));
  await standIn?.close();
  standIn = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

const free = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });

async function environment(): Promise<{ bot: Record<string, string>; worker: Record<string, string> }> {
  standIn = await startSlackStandIn({ botToken: 'xoxb-ports-test' });
  dir = mkdtempSync(join(tmpdir(), 'cf-ports-'));
  // A worker reads its kubeconfig and SSH files at start; nothing connects until a job arrives.
  writeFileSync(
    join(dir, 'kubeconfig'),
    'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
  );
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
  writeFileSync(join(dir, 'known_hosts'), '');
  const common = {
    SLACK_BOT_TOKEN: 'xoxb-ports-test',
    SLACK_SIGNING_SECRET: 'ports-secret',
    SLACK_API_URL: standIn.apiUrl,
    REDIS_URL,
    K8SNET_QUEUE_PREFIX: prefix,
    LOG_LEVEL: 'info',
  };
  return {
    bot: { ...common, PORT: String(await freePort()) },
    worker: {
      ...common,
      KUBECONFIG: join(dir, 'kubeconfig'),
      K8SNET_SSH_KEY: join(dir, 'id_ed25519'),
      K8SNET_SSH_KNOWN_HOSTS: join(dir, 'known_hosts'),
    },
  };
}

const start = (args: string[], env: Record<string, string>) => {
  const p = startK8snet(args, env);
  processes.push(p);
  return p;
};

describe('health ports on one host', () => {
  it('a bot and two workers with default ports all start, on different ports', async () => {
    const defaultsFree = (await free(9464)) && (await free(9465));
    const env = await environment();
    const bot = start(['bot'], env.bot);
    const worker = start(['worker'], env.worker);
    const ports = [
      Number((await bot.waitForLog('bot ready')).healthPort),
      Number((await worker.waitForLog('worker ready', 30_000)).healthPort),
    ];
    const second = start(['worker'], env.worker);
    ports.push(Number((await second.waitForLog('worker ready', 30_000)).healthPort));
    expect(new Set(ports).size).toBe(3);
    for (const port of ports) expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    if (defaultsFree) {
      expect(ports.slice(0, 2)).toEqual([9464, 9465]);
      expect(second.logs.find((l) => l.level === 40 || l.level === 'warn')?.msg).toMatch(
        /health port 9465 is taken on this host .*serving \/healthz, \/readyz and \/metrics on \d+/,
      );
    }
  }, 90_000);

  it('a port that was set and is taken stops start-up, naming K8SNET_HEALTH_PORT', async () => {
    const env = await environment();
    const bot = start(['bot'], { ...env.bot, K8SNET_HEALTH_PORT: '0' });
    const taken = String((await bot.waitForLog('bot ready')).healthPort);
    const worker = start(['worker'], { ...env.worker, K8SNET_HEALTH_PORT: taken });
    expect((await worker.exited).code).not.toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(worker.stderr.join('\n')).toContain(`K8SNET_HEALTH_PORT: port ${taken} is already in use on this host`);
  }, 60_000);
});
