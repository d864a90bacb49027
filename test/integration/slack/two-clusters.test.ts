/**
 * Acceptance of many clusters, as in production: two labs as two clusters of one clusters file, one `k8snet bot`,
 * a `k8snet worker --cluster NAME` process for each, the real Redis and the Slack stand-in. What each cluster saw is
 * read from its own side — its nodes' sshd logs and command logs, its API server's request log — never from ours.
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
import type { LabState } from '../../../src/lab/state.ts';
import { labApiPaths } from '../../../src/lab/api-server/server.ts';
import { startLab, stopLab } from '../../support/lab.ts';
import { BOT_TOKEN, REDIS_URL, SIGNING_SECRET, freePort, until } from '../../support/slack-pipeline.ts';
import {
  bundleCommandRows,
  loggedOnNodes,
  privateAnswer,
  processEnv,
  stopProcesses,
} from '../../support/k8snet-processes.ts';

/** Cluster name → its lab and the channel that uses it by default. */
const CLUSTERS = {
  alpha: { lab: 'mcla', channel: 'CALPHA' },
  beta: { lab: 'mclb', channel: 'CBETA' },
} as const;
type Name = keyof typeof CLUSTERS;
const NODES = ['k8s-node1', 'k8s-node2'];
/** What the buttons are sealed with: the workers hold it instead of Slack's signing secret. */
const ACTION_KEY = `k8snet-test-action-key-${randomBytes(16).toString('hex')}`;

const labs = {} as Record<Name, LabState>;
let standIn: SlackStandIn;
let redis: Redis;
let dir: string;
let botPort: number;
const prefix = `k8snet-mc-${randomBytes(4).toString('hex')}`;
const processes: K8snetProcess[] = [];
const workers = {} as Record<Name, K8snetProcess>;

function env(): Record<string, string> {
  return processEnv(standIn, prefix, {
    K8SNET_CLUSTERS_FILE: join(dir, 'clusters.yaml'),
    K8SNET_ALLOWED_USERS: 'U1,U2,U3',
    K8SNET_CAPTURE_USERS: 'U1,U2',
    K8SNET_CAPTURE_SECONDS: '2',
    // A killed worker's job is taken over within a few seconds (its lock lapses, the next stalled check takes it).
    K8SNET_JOB_LOCK_SECONDS: '3',
    K8SNET_STALLED_CHECK_SECONDS: '1',
    K8SNET_ACTION_KEY: ACTION_KEY,
  });
}

async function startWorker(cluster: Name): Promise<K8snetProcess> {
  // No KUBECONFIG or K8SNET_SSH_* of its own: the clusters file's entry for its cluster is all it knows. Nor Slack's
  // signing secret: its buttons are sealed with K8SNET_ACTION_KEY, which the bot opens them with.
  const { SLACK_SIGNING_SECRET: _notOnWorkers, ...workerEnv } = env();
  const worker = startK8snet(['worker', '--cluster', cluster], workerEnv);
  processes.push(worker);
  await worker.waitForLog('worker ready', 30_000);
  workers[cluster] = worker;
  return worker;
}

async function send(cluster: Name, text: string, user = 'U1'): Promise<void> {
  const { body, headers } = signedSlashCommand(SIGNING_SECRET, {
    command: '/k8snet',
    text,
    user_id: user,
    channel_id: CLUSTERS[cluster].channel,
    team_id: 'T1',
    response_url: standIn.responseUrl,
  });
  const res = await fetch(`http://127.0.0.1:${botPort}/slack/events`, { method: 'POST', headers, body });
  await res.text();
  expect(res.status).toBe(200);
}

const click = (cluster: Name, ts: string, actionId: string, user: string) =>
  standIn.click({
    url: `http://127.0.0.1:${botPort}/slack/events`,
    signingSecret: SIGNING_SECRET,
    channel: CLUSTERS[cluster].channel,
    ts,
    actionId,
    user,
  });

const blocks = (cluster: Name, ts: string) =>
  JSON.stringify(standIn.messages.get(`${CLUSTERS[cluster].channel}/${ts}`)?.blocks ?? '');
const parents = (cluster: Name) =>
  [...standIn.messages.values()].filter((m) => m.channel === CLUSTERS[cluster].channel && !m.thread_ts);
const nthParent = (cluster: Name, nth: number) =>
  until(() => parents(cluster)[nth], 10_000, `parent ${nth} in ${cluster}`);
const finished = (cluster: Name, ts: string, ms = 90_000) =>
  until(() => /done in|done:/.test(blocks(cluster, ts)), ms, `job at ${ts} on ${cluster} done`).catch((err: Error) => {
    throw new Error(`${err.message}: ${blocks(cluster, ts)}`);
  });
const replies = (cluster: Name, threadTs: string) =>
  standIn.calls.filter(
    (c) =>
      c.method === 'chat.postMessage' && c.args.channel === CLUSTERS[cluster].channel && c.args.thread_ts === threadTs,
  );
/** The replies a job's delivery ledger recorded as posted (a retried job skips those). */
const ledgered = async (jobId: string) =>
  Object.keys(await redis.hgetall(`${prefix}:{k8snet}-ledger:${jobId}`)).filter((k) => k.startsWith('reply:')).length;
/** The job a parent message is about: every button's value names it (`1.<job>.<expiry>.<text>.<tag>`). */
function jobIdOf(cluster: Name, ts: string): string {
  const message = standIn.messages.get(`${CLUSTERS[cluster].channel}/${ts}`);
  const button = ((message?.blocks ?? []) as { elements?: { value?: string }[] }[])
    .flatMap((b) => b.elements ?? [])
    .find((e) => e.value);
  return button!.value!.split('.')[1]!;
}
const finishedLog = (worker: K8snetProcess, jobId: string) =>
  until(
    () => worker.logs.find((l) => l.jobId === jobId && l.msg === 'job finished'),
    10_000,
    `job ${jobId} finished in the log`,
  );
const startedJobs = (worker: K8snetProcess) =>
  worker.logs.filter((l) => l.msg === 'job started').map((l) => String(l.jobId));

/** Everything a cluster saw from outside, read from its own side: its sshd and command logs, its API's requests. */
function clusterSide(cluster: Name): { sshd: string; commands: string; api: string } {
  const paths = labPaths(CLUSTERS[cluster].lab);
  const read = (file: string) => readFileSync(file, 'utf8');
  return {
    sshd: NODES.map((n) => read(join(paths.logs, `${n}-sshd.log`))).join(''),
    commands: NODES.map((n) => read(nodeCommandLog(paths, n))).join(''),
    api: read(labApiPaths(paths.dir).requests),
  };
}

/** The SHA256 fingerprint of a lab's client key, as sshd logs the key it accepted. */
function clientKeyFingerprint(cluster: Name): string {
  const out = execFileSync('ssh-keygen', ['-lf', `${labPaths(CLUSTERS[cluster].lab).clientKey}.pub`], {
    encoding: 'utf8',
  });
  return /SHA256:\S+/.exec(out)![0];
}

beforeAll(async () => {
  // One after the other: each lab takes the first node subnet free at its start.
  for (const name of Object.keys(CLUSTERS) as Name[]) labs[name] = await startLab(CLUSTERS[name].lab);
  standIn = await startSlackStandIn({ botToken: BOT_TOKEN });
  redis = new Redis(REDIS_URL);
  dir = mkdtempSync(join(tmpdir(), 'k8snet-two-clusters-'));
  const entry = (name: Name, capture: string) => {
    const paths = labPaths(CLUSTERS[name].lab);
    return [
      `  ${name}:`,
      `    kubeconfig: ${paths.kubeconfig}`,
      `    ssh: { user: root, key: ${paths.clientKey}, knownHosts: ${paths.knownHosts} }`,
      `    capture: ${capture}`,
      `    channels: [${CLUSTERS[name].channel}]`,
    ].join('\n');
  };
  writeFileSync(
    join(dir, 'clusters.yaml'),
    `clusters:\n${entry('alpha', '{ defaultSeconds: 2, maxSeconds: 10 }')}\n${entry('beta', '{ defaultSeconds: 2, maxSeconds: 4 }')}\n`,
  );
  botPort = await freePort();
  const bot = startK8snet(['bot'], { ...env(), PORT: String(botPort) });
  processes.push(bot);
  expect((await bot.waitForLog('bot ready')).clusters).toEqual(['alpha', 'beta']);
  await Promise.all([startWorker('alpha'), startWorker('beta')]);
}, 300_000);

afterAll(async () => {
  await stopProcesses(processes, redis, prefix, standIn);
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const name of Object.keys(CLUSTERS) as Name[]) await stopLab(CLUSTERS[name].lab);
}, 120_000);

describe('two labs as two clusters, one bot, a worker each', () => {
  it("a trace in each cluster's channel lands in that channel's thread, run by that cluster's worker on its own nodes", async () => {
    const nodeIPs = (name: Name) => labs[name].plan.nodes.map((n) => n.ip);
    // Two labs on one host take different node subnets: their addresses tell the answers apart.
    expect(nodeIPs('alpha').some((ip) => nodeIPs('beta').includes(ip))).toBe(false);
    await Promise.all([send('alpha', 'trace pod-src pod-dest'), send('beta', 'trace pod-src pod-dest')]);
    for (const name of ['alpha', 'beta'] as const) {
      const other: Name = name === 'alpha' ? 'beta' : 'alpha';
      const parent = await nthParent(name, 0);
      await finished(name, parent.ts);
      expect(blocks(name, parent.ts)).toContain(`on ${name}`);
      const thread = replies(name, parent.ts)
        .map((c) => JSON.stringify(c.args.blocks))
        .join('\n');
      expect(thread.length).toBeGreaterThan(0);
      for (const ip of nodeIPs(name)) expect(thread).toContain(ip);
      for (const ip of nodeIPs(other)) expect(thread).not.toContain(ip);
      const jobId = jobIdOf(name, parent.ts);
      expect(startedJobs(workers[name])).toContain(jobId);
      expect(startedJobs(workers[other])).not.toContain(jobId);
      expect(replies(name, parent.ts).length).toBe(await ledgered(jobId));
    }
    // Each cluster's nodes accepted only their own cluster's key (the other worker's never even tried: no
    // connection closed before authentication).
    for (const name of ['alpha', 'beta'] as const) {
      const { sshd } = clusterSide(name);
      const accepted = sshd.split('\n').filter((l) => l.includes('Accepted publickey'));
      expect(accepted.length).toBeGreaterThan(0);
      for (const line of accepted) expect(line).toContain(clientKeyFingerprint(name));
      expect(sshd).not.toMatch(/preauth|Failed publickey|Invalid user/);
    }
  }, 240_000);

  it('alpha: a trace, "Capture again (10 s)" by another allowed user, "Evidence bundle" — one thread, each reply once, the bundle holds what alpha\'s nodes ran; beta sees nothing of it', async () => {
    const before = clusterSide('beta');
    // Beta's logs hold its own first trace: what follows compares real logs, not empty files.
    for (const log of Object.values(before)) expect(log.length).toBeGreaterThan(0);
    const betaJobsBefore = startedJobs(workers.beta).length;
    const count = parents('alpha').length;
    await send('alpha', 'trace pod-src pod-dest');
    const first = await nthParent('alpha', count);
    await finished('alpha', first.ts);
    expect(blocks('alpha', first.ts)).toContain('Capture again (10 s)');

    // Not on the capture list: refused privately, nothing queued.
    const threadBefore = standIn.calls.filter((c) => c.args.thread_ts === first.ts).length;
    await click('alpha', first.ts, 'k8snet:capture_again', 'U3');
    await privateAnswer(standIn, 'you may not capture packets');

    expect((await click('alpha', first.ts, 'k8snet:capture_again', 'U2')).status).toBe(200);
    const followUp = (nth: number) =>
      until(
        () =>
          [...standIn.messages.values()].filter(
            (m) => m.thread_ts === first.ts && blocks('alpha', m.ts).includes('"type":"header"'),
          )[nth],
        10_000,
        `follow-up ${nth}`,
      );
    const second = await followUp(0);
    // The refused click queued nothing: the first thread message after it is U2's job.
    expect(standIn.calls.filter((c) => c.args.thread_ts === first.ts).length).toBeGreaterThan(threadBefore);
    expect(blocks('alpha', second.ts)).toContain('asked by <@U2>');
    expect(blocks('alpha', second.ts)).not.toContain('asked by <@U3>');
    await finished('alpha', second.ts);
    const secondJob = jobIdOf('alpha', second.ts);

    await click('alpha', second.ts, 'k8snet:bundle', 'U1');
    const third = await followUp(1);
    await finished('alpha', third.ts);
    const n = secondJob.slice(1);
    const upload = await until(
      () => [...standIn.uploads.values()].find((u) => u.filename === `k8snet-evidence-${n}.tar.gz`),
      10_000,
      'bundle upload',
    );

    // Three jobs, one thread, every reply posted once (by each job's ledger), plus the two parents of the clicks.
    const thread = standIn.calls.filter(
      (c) => c.method === 'chat.postMessage' && c.args.channel === 'CALPHA' && c.args.thread_ts,
    );
    const inThread = thread.filter((c) => c.args.thread_ts === first.ts);
    const firstJob = jobIdOf('alpha', first.ts);
    expect(firstJob).not.toBe(secondJob);
    // The bundle's parent (it carries no buttons) names the job whose evidence it posts.
    expect(blocks('alpha', third.ts)).toContain(`evidence bundle of job ${n} on alpha`);
    expect(inThread.length).toBe((await ledgered(firstJob)) + (await ledgered(secondJob)) + 2);
    expect(
      standIn.calls.filter(
        (c) => c.method === 'files.completeUploadExternal' && JSON.stringify(c.args).includes(`evidence of job ${n}`),
      ),
    ).toHaveLength(1);
    for (const job of [firstJob, secondJob]) expect(startedJobs(workers.alpha)).toContain(job);

    const out = mkdtempSync(join(tmpdir(), 'k8snet-two-clusters-bundle-'));
    try {
      writeFileSync(join(out, 'b.tar.gz'), upload.bytes);
      execFileSync('tar', ['-xzf', join(out, 'b.tar.gz'), '-C', out]);
      const root = join(out, `k8snet-evidence-${secondJob}`);
      const rows = bundleCommandRows(root);
      expect(rows.length).toBeGreaterThan(5);
      expect(rows.some((r) => r[5]!.startsWith('tcpdump'))).toBe(true);
      expect(readFileSync(join(root, 'README.txt'), 'utf8')).toContain('--capture-seconds 10');
      // Every command the bundle lists is one alpha's nodes logged (the argv, quoted, inside the timeout wrapper).
      // (Listed when not: node and command.)
      expect(loggedOnNodes(rows, CLUSTERS.alpha.lab, NODES).filter(([, , ok]) => !ok)).toEqual([]);
      const all = execFileSync(
        'cat',
        execFileSync('find', [root, '-type', 'f'], { encoding: 'utf8' }).trim().split('\n'),
        { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 },
      );
      for (const secret of [BOT_TOKEN, ACTION_KEY, 'PRIVATE KEY']) expect(all).not.toContain(secret);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }

    // Beta's side: not one SSH connection, node command or API request while alpha ran three jobs.
    expect(clusterSide('beta')).toEqual(before);
    expect(startedJobs(workers.beta).length).toBe(betaJobsBefore);
  }, 300_000);

  it("killing alpha's worker mid-capture leaves beta's job unaffected; alpha's job resumes on a new worker and replies once", async () => {
    const [alphaCount, betaCount] = [parents('alpha').length, parents('beta').length];
    const killed = workers.alpha;
    await send('alpha', 'trace pod-src pod-dest --capture-seconds 4');
    const alphaParent = await nthParent('alpha', alphaCount);
    const alphaJob = jobIdOf('alpha', alphaParent.ts);
    await until(
      () => killed.logs.some((l) => l.jobId === alphaJob && l.msg === 'step' && String(l.step).startsWith('capturing')),
      60_000,
      "alpha's capture started",
    );
    await send('beta', 'trace pod-src pod-dest --capture-seconds 3');
    const betaParent = await nthParent('beta', betaCount);
    const betaJob = jobIdOf('beta', betaParent.ts);
    await until(() => startedJobs(workers.beta).includes(betaJob), 20_000, "beta's job started");
    expect((await killed.kill('SIGKILL')).signal).toBe('SIGKILL');

    // Beta's job runs on as if nothing happened: done, once, by beta's worker, in one attempt.
    await finished('beta', betaParent.ts);
    expect(blocks('beta', betaParent.ts)).not.toContain('running again');
    expect(workers.beta.logs.filter((l) => l.jobId === betaJob && l.msg === 'job started')).toHaveLength(1);
    // The thread shows done before the worker's own log line about it: wait for the line.
    expect(await finishedLog(workers.beta, betaJob)).toMatchObject({
      outcome: 'done',
    });
    expect(replies('beta', betaParent.ts).length).toBe(await ledgered(betaJob));

    // Alpha's job waits for a worker, then resumes on the new one and finishes; every reply appears once.
    expect(blocks('alpha', alphaParent.ts)).not.toMatch(/done in/);
    const fresh = await startWorker('alpha');
    await finished('alpha', alphaParent.ts, 120_000);
    expect(fresh.logs.some((l) => l.jobId === alphaJob && l.msg === 'job started')).toBe(true);
    expect(await finishedLog(fresh, alphaJob)).toMatchObject({
      outcome: 'done',
    });
    expect(
      standIn.calls.some(
        (c) =>
          c.method === 'chat.update' &&
          c.args.ts === alphaParent.ts &&
          JSON.stringify(c.args.blocks).includes('running again'),
      ),
    ).toBe(true);
    const alphaReplies = replies('alpha', alphaParent.ts);
    expect(alphaReplies.length).toBeGreaterThan(0);
    expect(alphaReplies.length).toBe(await ledgered(alphaJob));
    const texts = alphaReplies.map((c) => JSON.stringify(c.args.blocks));
    expect(new Set(texts).size).toBe(texts.length);
  }, 300_000);

  it('one `k8snet worker` without --cluster serves both clusters, each on its own nodes (the environment has none of its own)', async () => {
    for (const name of Object.keys(CLUSTERS) as Name[]) await workers[name].kill('SIGTERM');
    const { SLACK_SIGNING_SECRET: _notOnWorkers, ...workerEnv } = env();
    const all = startK8snet(['worker'], workerEnv);
    processes.push(all);
    await until(
      () => all.logs.filter((l) => l.msg === 'worker ready').length === 2,
      30_000,
      'ready on both queues',
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(all.logs.slice(-5))}`);
    });
    expect(all.logs.filter((l) => l.msg === 'worker ready').map((l) => l.cluster)).toEqual(['alpha', 'beta']);
    expect(all.logs.find((l) => String(l.msg).startsWith('not serving the default queue'))).toBeDefined();
    const counts = { alpha: parents('alpha').length, beta: parents('beta').length };
    const before = { alpha: clusterSide('alpha').commands, beta: clusterSide('beta').commands };
    for (const name of Object.keys(CLUSTERS) as Name[]) {
      await send(name, 'routes k8s-node1');
      const parent = await nthParent(name, counts[name]);
      await finished(name, parent.ts);
      expect(startedJobs(all)).toContain(jobIdOf(name, parent.ts));
      // Its own lab's node ran `ip route`; the other lab's nodes saw nothing new from this job.
      const other: Name = name === 'alpha' ? 'beta' : 'alpha';
      expect(clusterSide(name).commands.length).toBeGreaterThan(before[name].length);
      expect(clusterSide(other).commands).toBe(before[other]);
      before[name] = clusterSide(name).commands;
    }
  }, 120_000);
});
