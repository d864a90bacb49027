/**
 * `k8snet worker`: runs inspection jobs from the queue — any number of them, on any number of machines, sharing
 * one Redis. Each needs to reach the Kubernetes API, the nodes' sshd and Slack's Web API. On SIGTERM it stops taking
 * jobs, gives running ones the grace period, hands the rest back to the queue, then closes SSH and Redis.
 */
import {
  captureSettings,
  processSettings,
  queueSettings,
  slackClientSettings,
  workerSettings,
  accessSettings,
  actionKeySecret,
  bundleSecrets,
  clustersFileSetting,
  ConfigError,
  type Env,
} from '../config.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { createMetrics, type K8snetMetrics } from '../observability/metrics.ts';
import { readClustersFile } from '../clusters/clusters-file.ts';
import { startHealthServer } from '../observability/health-server.ts';
import { connectRedis } from '../queue/redis-url.ts';
import { createInspectionQueue, queueName } from '../queue/jobs.ts';
import { envForCluster } from '../cli/deps.ts';
import { RedisCaptureLocks } from '../queue/capture-locks.ts';
import { startWorkerHost } from '../queue/worker-host.ts';
import { AuditTrail } from '../audit/audit-trail.ts';
import { auditedShell } from '../audit/audited-shell.ts';
import { createOperationRunner } from '../ops/run-operation.ts';
import { CAPTURE_SETUP_SECONDS } from '../ops/capture-session.ts';
import { depsFromEnv } from '../cli/deps.ts';
import { createSlackClient, slackReachable } from '../slack/slack-client.ts';
import { slackReporter } from '../slack/slack-reporter.ts';
import { deriveActionKey } from '../slack/action-value.ts';
import { recordingCluster } from '../ops/recording-cluster.ts';
import { onTermination } from './lifecycle.ts';

/** One queue served in this process: its cluster's settings, connections and worker host, and how to close them. */
interface QueueWorker {
  cluster: string | null;
  queue: ReturnType<typeof createInspectionQueue>;
  host: ReturnType<typeof startWorkerHost>;
  redis: ReturnType<typeof connectRedis>;
  slack: ReturnType<typeof createSlackClient>;
  concurrency: number;
  closers: (() => Promise<unknown>)[];
}

async function startQueueWorker(
  baseEnv: Env,
  cluster: string | null,
  log: Logger,
  metrics: K8snetMetrics,
): Promise<QueueWorker> {
  const env = cluster ? await envForCluster(cluster, baseEnv) : baseEnv;
  const queueConfig = queueSettings(env);
  const settings = workerSettings(env);
  const { auditChannel } = accessSettings(env);
  const deps = depsFromEnv(env);
  const slack = createSlackClient(slackClientSettings(env));
  // The buttons' values are sealed with a key derived from K8SNET_ACTION_KEY (else the signing secret), as the bot
  // checks them; a worker needs no Slack signing secret when the action key is set. Neither: no buttons.
  const actionSecret = actionKeySecret(env);
  if (!actionSecret)
    log.warn(
      { cluster: cluster ?? 'default' },
      'neither K8SNET_ACTION_KEY nor SLACK_SIGNING_SECRET is set: finished jobs get no buttons (set the one the bot has)',
    );
  const redis = connectRedis(queueConfig.redisUrl, { blocking: true, name: 'k8snet-worker' });
  const subscriber = connectRedis(queueConfig.redisUrl, { blocking: true, name: 'k8snet-worker-cancel' });
  for (const c of [redis, subscriber])
    c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = createInspectionQueue(redis, queueConfig.prefix, cluster);
  // A capture waits at most one full capture of another job for its interface.
  const captureLocks = new RedisCaptureLocks(
    redis,
    queueConfig.prefix,
    (captureSettings(env).maxSeconds + CAPTURE_SETUP_SECONDS + 10) * 1000,
    cluster,
  );
  const host = startWorkerHost({
    connection: redis,
    subscriber,
    prefix: queueConfig.prefix,
    runnerFor: (onCommand, onRead) =>
      createOperationRunner({
        ...deps,
        cluster: recordingCluster(deps.cluster, onRead),
        shell: auditedShell(deps.shell, onCommand, metrics),
        captureLocks,
      }),
    chat: slackReporter(slack, {
      key: actionSecret ? deriveActionKey(actionSecret) : null,
      bounds: captureSettings(env),
    }),
    secrets: bundleSecrets(env),
    queueName: queueName(cluster),
    cluster,
    settings,
    audit: new AuditTrail(redis, queueConfig.prefix),
    auditChannel,
    metrics,
    log,
  });
  return {
    cluster,
    queue,
    host,
    redis,
    slack,
    concurrency: settings.concurrency,
    closers: [
      () => host.close(),
      () => deps.close(),
      () => queue.close(),
      async () => subscriber.quit(),
      async () => redis.quit(),
    ],
  };
}

/** The queues a worker started without `--cluster` serves: the default one and every cluster of the clusters file. */
export async function allQueues(env: Env): Promise<(string | null)[]> {
  const path = clustersFileSetting(env);
  if (!path) return [null];
  return [null, ...(await readClustersFile(path)).clusters.map((c) => c.name)];
}

/**
 * Serves each of `clusters` (null: the default queue, with the environment's own settings) in this one process, each
 * with its cluster's settings from the clusters file laid over `env`; one health server and metrics for all.
 */
export async function runWorkerProcess(baseEnv: Env, clusters: readonly (string | null)[] = [null]): Promise<void> {
  const proc = processSettings(baseEnv, 'worker');
  const log = createLogger({ level: proc.logLevel, name: 'k8snet-worker' });
  const workers: QueueWorker[] = [];
  const metrics = createMetrics({
    queueDepth: async () => {
      const total: Record<string, number> = {};
      for (const w of workers)
        for (const [state, n] of Object.entries(
          await w.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
        ))
          total[state] = (total[state] ?? 0) + n;
      return total;
    },
  });
  for (const cluster of clusters) {
    try {
      workers.push(await startQueueWorker(baseEnv, cluster, log, metrics));
    } catch (err) {
      // Beside the clusters of a clusters file, the environment need not configure a cluster of its own.
      if (!(cluster === null && clusters.length > 1 && err instanceof ConfigError)) throw err;
      log.warn(
        { err: err.message },
        "not serving the default queue: the environment configures no cluster of its own (only the clusters file's)",
      );
    }
  }
  const health = await startHealthServer({
    port: proc.healthPort,
    fallbackToFreePort: proc.healthPortIsDefault,
    registry: metrics.registry,
    checks: {
      redis: async () => void (await Promise.all(workers.map((w) => w.redis.ping()))),
      slack: slackReachable(workers[0]!.slack),
    },
    isShuttingDown: () => shutdown.requested,
  });
  if (health.fellBack)
    log.warn(
      { healthPort: health.port, taken: proc.healthPort },
      `health port ${proc.healthPort} is taken on this host (another k8snet process?): serving /healthz, /readyz and /metrics on ${health.port}; set K8SNET_HEALTH_PORT to choose`,
    );
  // Registered once the health server exists; /readyz reads `shutdown` only when a probe arrives, after this line.
  const shutdown = onTermination(log, [
    // Every queue's jobs get the grace period at once; within one queue, jobs first, then its connections.
    () =>
      Promise.all(
        workers.map(async (w) => {
          for (const close of w.closers) await close();
        }),
      ),
    () => health.close(),
  ]);
  for (const w of workers) {
    await w.host.worker.waitUntilReady();
    log.info(
      {
        concurrency: w.concurrency,
        healthPort: health.port,
        prefix: queueSettings(baseEnv).prefix,
        cluster: w.cluster ?? 'default',
        queue: queueName(w.cluster),
      },
      'worker ready',
    );
  }
}
