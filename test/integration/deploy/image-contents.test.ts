/**
 * The image without a Docker engine (none runs here): lays out what the Dockerfile's final stage holds — production
 * dependencies only (`npm ci --omit=dev`, as its deps stage runs) plus the files its COPY lines name — and starts
 * `k8snet bot` and `k8snet worker` from it as uid 1000 (the image's USER), with Node 24 and no dev dependency or
 * test file anywhere. A runtime import of a dev dependency, or a file the Dockerfile forgets, fails here.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSlackStandIn, type SlackStandIn } from '../../../src/demo/slack-stand-in.ts';
import { startK8snet } from '../../../src/demo/k8snet-process.ts';
import { freePort } from '../../../src/demo/wait.ts';
import { Redis } from 'ioredis';
import { run } from '../../support/lab.ts';

const REDIS_URL = process.env.K8SNET_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `k8snet-image-${process.pid}`;
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const image = mkdtempSync(join(tmpdir(), 'k8snet-image-'));
const app = join(image, 'app');
let standIn: SlackStandIn;

/** The final stage's COPY sources (other than --from=deps), read from the Dockerfile itself. */
function copiedPaths(): string[] {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n');
  const finalStage = lines.slice(lines.findLastIndex((l) => l.startsWith('FROM ')));
  return finalStage
    .filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
    .flatMap((l) =>
      l
        .replace(/^COPY\s+/, '')
        .trim()
        .split(/\s+/)
        .slice(0, -1),
    );
}

/** What .dockerignore keeps out of the build context, as paths below the repository (its plain entries). */
function ignoredPaths(): string[] {
  return readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !/[*?!]/.test(l));
}

beforeAll(async () => {
  cpSync(join(ROOT, 'package.json'), join(app, 'package.json'));
  cpSync(join(ROOT, 'package-lock.json'), join(app, 'package-lock.json'));
  const install = await run(['npm', 'ci', '--omit=dev', '--no-audit', '--no-fund', '--prefix', app], 240_000);
  expect(install.stderr).not.toMatch(/npm error/);
  rmSync(join(app, 'package-lock.json')); // the final stage takes node_modules from the deps stage, not the lock file
  const ignored = ignoredPaths();
  for (const p of copiedPaths())
    cpSync(join(ROOT, p), join(app, p), {
      recursive: true,
      filter: (from) => !ignored.some((i) => from === join(ROOT, i) || from.startsWith(`${join(ROOT, i)}/`)),
    });
  // The image's node (node:24-bookworm-slim): this Node 24, where uid 1000 can run it.
  cpSync(process.execPath, join(image, 'node'));
  await run(['chown', '-R', '1000:1000', image]);
  chmodSync(image, 0o755);
  standIn = await startSlackStandIn({ botToken: 'xoxb-image-test' });
}, 300_000);
afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${PREFIX}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  await standIn?.close();
  rmSync(image, { recursive: true, force: true });
});

/** `node /app/bin/k8snet.js …` as uid 1000 in the laid-out image, like the ENTRYPOINT. */
function fromImage(args: string[], env: Record<string, string>) {
  return startK8snet(
    args,
    { ...env, HOME: '/tmp' },
    { node: join(image, 'node'), bin: join(app, 'bin', 'k8snet.js'), uid: 1000, gid: 1000, cwd: app },
  );
}

describe('the image contents (Dockerfile stages, without Docker)', () => {
  it('holds no dev dependency and no tests', async () => {
    const modules = (await run(['ls', join(app, 'node_modules')])).stdout.split('\n');
    expect(modules).toEqual(expect.arrayContaining(['@slack', 'bullmq', 'ioredis', 'node-ssh']));
    for (const dev of ['jest', 'typescript', 'eslint', '@swc', 'kubernetes-models']) expect(modules).not.toContain(dev);
    expect((await run(['ls', app])).stdout.trim().split('\n').sort()).toEqual(
      ['node_modules', ...copiedPaths()].sort(),
    );
    expect(copiedPaths()).not.toContain('test');
  });

  it('ships no lab, demo or test harness, and says so when asked for the lab', async () => {
    const src = (await run(['ls', join(app, 'src')])).stdout.trim().split('\n');
    expect(src).not.toContain('lab');
    expect(src).not.toContain('demo');
    const lab = fromImage(['lab', 'status'], {});
    expect(await lab.exited).toMatchObject({ code: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the last stderr line may land just after the exit
    expect(lab.stderr.join('\n')).toContain('needs a source checkout');
  });

  it('starts k8snet bot and k8snet worker as uid 1000, ready and stopping cleanly on SIGTERM', async () => {
    const secrets = join(image, 'secrets');
    await run(['mkdir', '-p', secrets]);
    // A worker reads its kubeconfig and SSH files at start; nothing connects until a job arrives.
    writeFileSync(
      join(secrets, 'kubeconfig'),
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    await run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', join(secrets, 'id_ed25519')]);
    writeFileSync(join(secrets, 'known_hosts'), '');
    await run(['chown', '-R', '1000:1000', secrets]);
    const common = {
      SLACK_BOT_TOKEN: 'xoxb-image-test',
      SLACK_API_URL: standIn.apiUrl,
      REDIS_URL,
      K8SNET_QUEUE_PREFIX: PREFIX,
      K8SNET_HEALTH_PORT: '0',
    };
    const bot = fromImage(['bot'], {
      ...common,
      SLACK_SIGNING_SECRET: 'image-test-secret',
      PORT: String(await freePort()),
    });
    const worker = fromImage(['worker'], {
      ...common,
      KUBECONFIG: join(secrets, 'kubeconfig'),
      K8SNET_SSH_KEY: join(secrets, 'id_ed25519'),
      K8SNET_SSH_KNOWN_HOSTS: join(secrets, 'known_hosts'),
    });
    try {
      await bot.waitForLog('bot ready', 30_000);
      await worker.waitForLog('worker ready', 30_000);
    } finally {
      expect(await bot.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(await worker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    }
  }, 90_000);
});
