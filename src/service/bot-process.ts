/**
 * `k8snet bot`: the Slack side as a process — Bolt (HTTP receiver or Socket Mode), the queue it feeds, /healthz
 * /readyz /metrics, JSON logs, and a clean stop on SIGTERM (stop taking commands, close Redis).
 */
import {
  accessSettings,
  captureSettings,
  ConfigError,
  processSettings,
  queueSettings,
  slackSettings,
  type Env,
} from '../config.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { startHealthServer } from '../observability/health-server.ts';
import { connectRedis } from '../queue/redis-url.ts';
import { createInspectionQueue } from '../queue/jobs.ts';
import { checkScheduleClusters } from '../schedule/schedule-file.ts';
import { AuditTrail } from '../audit/audit-trail.ts';
import { startBot } from '../slack/bot.ts';
import { slackReachable } from '../slack/slack-client.ts';
import { onTermination } from './lifecycle.ts';
import { scheduleSettings } from '../config.ts';
import { ReportSchedules } from '../schedule/report-schedules.ts';
import { applyScheduleFile, readScheduleFile } from '../schedule/schedule-file.ts';
import { clustersFileSetting } from '../config.ts';
import { clusterEnv, readClustersFile } from '../clusters/clusters-file.ts';
import { describeError } from '../errors.ts';

export async function runBotProcess(env: Env): Promise<void> {
  const slack = slackSettings(env);
  const access = accessSettings(env);
  const capture = captureSettings(env);
  const queueConfig = queueSettings(env);
  const proc = processSettings(env, 'bot');
  const schedules = scheduleSettings(env);
  // A bad schedules file stops start-up before anything connects.
  const declared = schedules.file ? await readScheduleFile(schedules.file) : null;
  const clustersPath = clustersFileSetting(env);
  const clusters = clustersPath ? await readClustersFile(clustersPath) : null;
  if (declared) checkScheduleClusters(declared, clusters?.clusters.map((c) => c.name) ?? []);
  // Each cluster's capture limits, checked as its workers will check them: a bad one stops the bot too, naming it.
  for (const entry of clusters?.clusters ?? []) {
    try {
      captureSettings(clusterEnv(entry, env));
    } catch (err) {
      throw new ConfigError('K8SNET_CLUSTERS_FILE', `cluster ${JSON.stringify(entry.name)}: ${describeError(err)}`);
    }
  }
  const log = createLogger({ level: proc.logLevel, name: 'k8snet-bot' });
  const redis = connectRedis(queueConfig.redisUrl, { blocking: false, name: 'k8snet-bot' });
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  const queue = createInspectionQueue(redis, queueConfig.prefix);
  // One queue per cluster (jobs.ts queueName): its commands and its schedules' ticks wait there for its workers.
  const clusterQueues = new Map(
    (clusters?.clusters ?? []).map((c) => [c.name, createInspectionQueue(redis, queueConfig.prefix, c.name)] as const),
  );
  if (declared)
    log.info(
      {
        file: schedules.file,
        ...(await applyScheduleFile(
          new ReportSchedules({ queue, clusterQueues, redis, prefix: queueConfig.prefix }),
          declared,
        )),
      },
      'schedules file applied',
    );
  const metrics = createMetrics({
    queueDepth: () => queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed'),
  });
  const bot = await startBot({
    slack,
    access,
    capture,
    queue,
    redis,
    prefix: queueConfig.prefix,
    audit: new AuditTrail(redis, queueConfig.prefix),
    metrics,
    log,
    schedules,
    clusters,
    clusterQueues,
  });
  const health = await startHealthServer({
    port: proc.healthPort,
    fallbackToFreePort: proc.healthPortIsDefault,
    registry: metrics.registry,
    checks: { redis: async () => void (await redis.ping()), slack: slackReachable(bot.client) },
    isShuttingDown: () => shutdown.requested,
  });
  if (health.fellBack)
    log.warn(
      { healthPort: health.port, taken: proc.healthPort },
      `health port ${proc.healthPort} is taken on this host (another k8snet process?): serving /healthz, /readyz and /metrics on ${health.port}; set K8SNET_HEALTH_PORT to choose`,
    );
  // Registered once the health server exists; /readyz reads `shutdown` only when a probe arrives, after this line.
  const shutdown = onTermination(log, [
    () => bot.close(),
    () => queue.close(),
    async () => redis.quit(),
    () => health.close(),
  ]);
  log.info(
    {
      mode: slack.appToken ? 'socket' : 'http',
      port: bot.port,
      healthPort: health.port,
      prefix: queueConfig.prefix,
      clusters: clusters?.clusters.map((c) => c.name) ?? [],
    },
    'bot ready',
  );
}
