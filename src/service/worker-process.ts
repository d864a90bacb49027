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
  type Env,
} from '../config.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
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

/** `cluster`: run that cluster's jobs (its queue), with its settings from the clusters file laid over `env`. */
export async function runWorkerProcess(baseEnv: Env, cluster: string | null = null): Promise<void> {
  const env = cluster ? await envForCluster(cluster, baseEnv) : baseEnv;
  const queueConfig = queueSettings(env);
  const settings = workerSettings(env);
  const proc = processSettings(env, 'worker');
  const { auditChannel } = accessSettings(env);
  const log = createLogger({ level: proc.logLevel, name: 'k8snet-worker' });
  const deps = depsFromEnv(env);
  const slackClient = slackClientSettings(env);
  const slack = createSlackClient(slackClient);
  // The buttons' values are sealed with a key derived from K8SNET_ACTION_KEY (else the signing secret), as the bot
  // checks them; a worker needs no Slack signing secret when the action key is set. Neither: no buttons.
  const actionSecret = actionKeySecret(env);
  if (!actionSecret)
    log.warn(
      'neither K8SNET_ACTION_KEY nor SLACK_SIGNING_SECRET is set: finished jobs get no buttons (set the one the bot has)',
    );
  const secrets = bundleSecrets(env);
  const redis = connectRedis(queueConfig.redisUrl, { blocking: true, name: 'k8snet-worker' });
  const subscriber = connectRedis(queueConfig.redisUrl, { blocking: true, name: 'k8snet-worker-cancel' });
  for (const c of [redis, subscriber])
    c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = createInspectionQueue(redis, queueConfig.prefix, cluster);
  const metrics = createMetrics({
    queueDepth: () => queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
  });
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
    secrets,
    queueName: queueName(cluster),
    cluster,
    settings,
    audit: new AuditTrail(redis, queueConfig.prefix),
    auditChannel,
    metrics,
    log,
  });
  const health = await startHealthServer({
    port: proc.healthPort,
    fallbackToFreePort: proc.healthPortIsDefault,
    registry: metrics.registry,
    checks: { redis: async () => void (await redis.ping()), slack: slackReachable(slack) },
    isShuttingDown: () => shutdown.requested,
  });
  if (health.fellBack)
    log.warn(
      { healthPort: health.port, taken: proc.healthPort },
      `health port ${proc.healthPort} is taken on this host (another k8snet process?): serving /healthz, /readyz and /metrics on ${health.port}; set K8SNET_HEALTH_PORT to choose`,
    );
  // Registered once the health server exists; /readyz reads `shutdown` only when a probe arrives, after this line.
  const shutdown = onTermination(log, [
    () => host.close(),
    () => deps.close(),
    () => queue.close(),
    async () => subscriber.quit(),
    async () => redis.quit(),
    () => health.close(),
  ]);
  await host.worker.waitUntilReady();
  log.info(
    {
      concurrency: settings.concurrency,
      healthPort: health.port,
      prefix: queueConfig.prefix,
      cluster: cluster ?? 'default',
      queue: queueName(cluster),
    },
    'worker ready',
  );
}
