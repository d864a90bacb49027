/**
 * REDIS_URL may name a Redis Cluster or a Sentinel set (issue: scale-out). Builds both from the machine's
 * redis-server on random local ports and runs a real job through the queue, a worker host, the delivery ledger,
 * the audit trail, report memory and a capture lock on each — the {k8snet} hash tag keeps every multi-key script in
 * one slot on the Cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, type RedisConnection } from '../../../src/queue/redis-url.ts';
import { createInspectionQueue } from '../../../src/queue/jobs.ts';
import { startWorkerHost } from '../../../src/queue/worker-host.ts';
import { AuditTrail } from '../../../src/audit/audit-trail.ts';
import { RedisCaptureLocks } from '../../../src/queue/capture-locks.ts';
import { ReportMemoryStore } from '../../../src/queue/report-memory.ts';
import { startSlackStandIn, type SlackStandIn } from '../../../src/demo/slack-stand-in.ts';
import { createSlackClient } from '../../../src/slack/slack-client.ts';
import { slackReporter } from '../../../src/slack/slack-reporter.ts';
import { createLogger } from '../../../src/observability/logger.ts';
import { redisAnswers } from '../../../src/demo/private-redis.ts';
import { freePort, until } from '../../../src/demo/wait.ts';
import { run } from '../../support/lab.ts';

const dir = mkdtempSync(join(tmpdir(), 'k8snet-redis-topologies-'));
const children: ChildProcess[] = [];
let standIn: SlackStandIn;
const TOKEN = 'xoxb-topology-test';

function redisServer(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  children.push(child);
  return child;
}

async function serve(port: number, extra: string[] = []): Promise<void> {
  const d = join(dir, String(port));
  await run(['mkdir', '-p', d]);
  redisServer([
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    d,
    '--save',
    '',
    '--appendonly',
    'no',
    ...extra,
  ]);
  await until(() => redisAnswers(`redis://127.0.0.1:${port}`), 10_000, `redis on ${port}`);
}

/** One job end to end through whatever connection the URL gives. */
async function roundTrip(url: string): Promise<void> {
  const prefix = 'k8snet-topo';
  const connection = connectRedis(url, { blocking: true, name: 'test' });
  const queue = createInspectionQueue(connection, prefix);
  const host = startWorkerHost({
    connection,
    prefix,
    runnerFor: (onCommand) => async (_command, ctx) => {
      const release = await new RedisCaptureLocks(connection, prefix, 1000).acquire('k8s-node1//eth0', 5000);
      await release();
      ctx.onStep('inspecting');
      onCommand({ node: 'k8s-node1', command: 'ip -j route show', exitCode: 0, timedOut: false, durationMs: 5 });
      return {
        result: { findings: [] },
        report: {
          title: 'report',
          headline: 'all good',
          findings: [],
          sections: [{ kind: 'text', title: 'Nodes', text: 'k8s-node1' }],
          attachments: [],
        },
        memory: { a: { firstSeen: 'x', message: 'y' } },
      };
    },
    chat: slackReporter(createSlackClient({ botToken: TOKEN, apiUrl: standIn.apiUrl }, 2)),
    settings: {
      concurrency: 1,
      jobTimeoutMs: 20_000,
      lockDurationMs: 10_000,
      stalledIntervalMs: 10_000,
      shutdownGraceMs: 1000,
    },
    audit: new AuditTrail(connection, prefix),
    log: createLogger({ level: 'silent' }),
  });
  try {
    standIn.calls.length = 0;
    await queue.add(
      'inspect',
      {
        channel: 'C1',
        user: 'U1',
        title: 'network health report',
        command: { op: 'report' },
        requestedAt: new Date().toISOString(),
        memoryKey: 'schedule:topo',
      },
      { jobId: `j${Date.now()}` },
    );
    await until(
      () => standIn.calls.some((c) => c.method === 'chat.update' && JSON.stringify(c.args.blocks).includes('all good')),
      20_000,
      'job done',
    );
    // The outcome is recorded just after the parent says done: wait for it rather than race it.
    await until(
      async () => (await new AuditTrail(connection, prefix).recent(5)).some((e) => e.type === 'outcome'),
      10_000,
      'outcome audited',
    );
    expect((await new AuditTrail(connection, prefix).recent(5)).map((e) => e.type)).toEqual([
      'node_command',
      'outcome',
    ]);
    expect(await new ReportMemoryStore(connection, prefix).load('schedule:topo')).toEqual({
      a: { firstSeen: 'x', message: 'y' },
    });
  } finally {
    await host.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await cleanup(connection, prefix);
    await connection.quit();
  }
}

async function cleanup(connection: RedisConnection, prefix: string): Promise<void> {
  const nodes = 'nodes' in connection ? connection.nodes('master') : [connection];
  for (const n of nodes) {
    const keys = await n.keys(`${prefix}:*`);
    for (const k of keys) await n.del(k);
  }
}

beforeAll(async () => {
  standIn = await startSlackStandIn({ botToken: TOKEN });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await standIn.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('REDIS_URL naming a Redis Cluster or a Sentinel set', () => {
  it('runs a job on a three-master Redis Cluster (redis+cluster://)', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    for (const p of ports)
      await serve(p, ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${p}.conf`)]);
    const created = await run(
      ['redis-cli', '--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-yes'],
      30_000,
    );
    expect(created.code).toBe(0);
    await until(
      async () =>
        (await run(['redis-cli', '-p', String(ports[0]), 'cluster', 'info'])).stdout.includes('cluster_state:ok'),
      15_000,
      'cluster ok',
    );
    await roundTrip(`redis+cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}`);
  }, 60_000);

  it('runs a job through a Sentinel set (redis+sentinel://…/master-name)', async () => {
    const masterPort = await freePort();
    await serve(masterPort);
    const sentinelPort = await freePort();
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(
      conf,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor k8snet-master 127.0.0.1 ${masterPort} 1`,
        '',
      ].join('\n'),
    );
    redisServer([conf, '--sentinel']);
    await until(
      async () =>
        (
          await run(['redis-cli', '-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', 'k8snet-master'])
        ).stdout.includes(String(masterPort)),
      15_000,
      'sentinel knows the master',
    );
    await roundTrip(`redis+sentinel://127.0.0.1:${sentinelPort}/k8snet-master`);
  }, 60_000);
});
