/**
 * `k8snet bot`, `k8snet worker` and `k8snet audit`: the long-running processes (the image runs these same commands)
 * and the audit trail reader. Settings come from the environment (.env.example); `--lab NAME` points a worker at a
 * local lab's kubeconfig and SSH settings.
 */
import { parseArgs } from 'node:util';
import { describeError, InvalidInputError } from '../errors.ts';
import { validateLabName } from '../validate.ts';
import { validateIntegerInRange } from '../validate.ts';
import { queueSettings } from '../config.ts';
import { validateClusterName } from '../command/grammar.ts';
import { envForLab } from './deps.ts';
import type { CliCommand } from './main.ts';

function options(argv: string[], extra: Record<string, { type: 'string' | 'boolean' }>) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: { help: { type: 'boolean', short: 'h' }, ...extra },
    }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new InvalidInputError('arguments', (err as Error).message);
  }
}

const BOT_USAGE = `Usage: k8snet bot

The Slack side: serves /k8snet and its buttons (HTTP receiver on $PORT at /slack/events, or Socket Mode when
SLACK_APP_TOKEN is set), checks who may run what, posts the parent message and queues the job in Redis. Health and
metrics on $K8SNET_HEALTH_PORT (default 9464; /healthz, /readyz, /metrics). With $K8SNET_CLUSTERS_FILE, each
cluster's jobs and scheduled reports go to that cluster's queue (--cluster NAME, else the channel's cluster), within
that cluster's capture limits. Button values are checked with $K8SNET_ACTION_KEY, else $SLACK_SIGNING_SECRET.
Stops cleanly on SIGTERM. Settings: .env.example.`;

const WORKER_USAGE = `Usage: k8snet worker [--lab NAME] [--cluster NAME]

Runs inspection jobs from the queue (any number of workers may share one Redis) and answers in the Slack thread.
Needs the Kubernetes API, SSH to the nodes and Slack's Web API. Keeps each finished job's evidence bundle in Redis
for a day (the "Evidence bundle" button). Health and metrics on $K8SNET_HEALTH_PORT (default 9465, so a bot and a
worker share a host; when the default is taken, any free port, named in the "worker ready" log line). On SIGTERM:
stops taking jobs, gives running ones $K8SNET_SHUTDOWN_GRACE_SECONDS, then hands them back to the queue. The
buttons under its answers are sealed with $K8SNET_ACTION_KEY (else $SLACK_SIGNING_SECRET), as the bot has it.

  --lab NAME       use a local lab's kubeconfig and SSH settings
  --cluster NAME   run the jobs of that cluster of $K8SNET_CLUSTERS_FILE (its own queue), with its kubeconfig,
                   SSH and capture settings; without it, the default queue with the environment's settings`;

const AUDIT_USAGE = `Usage: k8snet audit [--limit N] [--json]

The audit trail kept in Redis, oldest first: who asked for what from which channel, refusals, every command run on
a node with its exit status, and how each job ended.`;

/**
 * A process that fails half-way through start-up (a taken health port after Redis connected) must not linger with
 * its connections open: say why and exit 1 at once.
 */
async function exitIfStartFails(name: string, starting: Promise<void>): Promise<void> {
  try {
    await starting;
  } catch (err) {
    console.error(`k8snet ${name}: ${describeError(err)}`);
    process.exit(1);
  }
}

export const botCommand: CliCommand = {
  summary: 'the Slack bot process',
  async run(argv) {
    if (options(argv, {}).help) return (console.log(BOT_USAGE), 0);
    const { runBotProcess } = await import('../service/bot-process.ts');
    await exitIfStartFails('bot', runBotProcess(process.env));
    return new Promise<number>(() => undefined); // runs until SIGTERM
  },
};

export const workerCommand: CliCommand = {
  summary: 'a queue worker process',
  async run(argv) {
    const values = options(argv, { lab: { type: 'string' }, cluster: { type: 'string' } });
    if (values.help) return (console.log(WORKER_USAGE), 0);
    const env = await envForLab(typeof values.lab === 'string' ? validateLabName(values.lab) : undefined);
    const cluster = typeof values.cluster === 'string' ? validateClusterName(values.cluster) : null;
    const { runWorkerProcess } = await import('../service/worker-process.ts');
    await exitIfStartFails('worker', runWorkerProcess(env, cluster));
    return new Promise<number>(() => undefined);
  },
};

export const auditCommand: CliCommand = {
  summary: 'print the audit trail',
  async run(argv) {
    const values = options(argv, { limit: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) return (console.log(AUDIT_USAGE), 0);
    const limit = values.limit === undefined ? 100 : validateIntegerInRange('--limit', values.limit, 1, 100_000);
    const { connectRedis } = await import('../queue/redis-url.ts');
    const { AuditTrail } = await import('../audit/audit-trail.ts');
    const { formatAuditRecord } = await import('../audit/audit-format.ts');
    const config = queueSettings(process.env);
    const redis = connectRedis(config.redisUrl, { blocking: false, name: 'k8snet-audit' });
    try {
      const records = await new AuditTrail(redis, config.prefix).recent(limit);
      for (const r of records) console.log(values.json ? JSON.stringify(r) : formatAuditRecord(r));
      return 0;
    } finally {
      await redis.quit();
    }
  },
};
