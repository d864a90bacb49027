/**
 * Runs inspection jobs: shows progress on the parent message (running: step → done / failed with the headline
 * findings), posts the report into the thread through the delivery ledger (a retried job never posts twice), and
 * uploads long sections and the raw pcap as files. Every node command a job runs goes to the audit trail.
 *
 * Delivery: a worker that dies mid-job stops renewing the job's lock; another worker's stalled-job check takes the
 * job over and the ledger skips what was already posted. A job past its time limit, or cancelled, is aborted and
 * says so in its thread. On shutdown, running jobs get a grace period, then are handed back to the queue.
 */
import { Worker, WaitingError, type Job } from 'bullmq';
import { describeError, isK8snetError } from '../errors.ts';
import type { OperationRunner } from '../ops/run-operation.ts';
import type { ChatReporter, JobStatusView } from './chat-port.ts';
import type { Logger } from '../observability/logger.ts';
import type { K8snetMetrics } from '../observability/metrics.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import { auditFields, type NodeCommandEvidence, type NodeCommandRecord } from '../audit/audited-shell.ts';
import { buildEvidenceBundle } from '../audit/evidence-bundle.ts';
import type { ClusterRead } from '../ops/recording-cluster.ts';
import { commandText } from '../command/command-text.ts';
import { BundleStore } from './bundle-store.ts';
import type { WorkerSettings } from '../config.ts';
import { DeliveryLedger } from './delivery-ledger.ts';
import { displayJobId, QUEUE_NAME, workerPresenceKey, type InspectionJobData, type JobName } from './jobs.ts';
import type { RedisConnection } from './redis-url.ts';
import { ReportMemoryStore } from './report-memory.ts';
import { subscribeCancels } from './cancellation.ts';

/** A worker renews its presence every third of this; gone this long, its queue counts as having no worker. */
const PRESENCE_TTL_SECONDS = 30;

/** Progress updates on the parent message at most this often (chat.update is rate limited, ~1/s per channel). */
const PROGRESS_INTERVAL_MS = 1000;

export interface WorkerHostOptions {
  /** BullMQ's connection (maxRetriesPerRequest: null); also used for the ledger, memory and audit. */
  connection: RedisConnection;
  /** A second connection for the cancel channel (a subscribed connection can do nothing else). */
  subscriber?: RedisConnection;
  prefix: string;
  /**
   * Builds the runner for one job; `onCommand` receives every node command that job runs (with its output, for the
   * evidence bundle; the audit keeps only the audit fields), `onRead` every Kubernetes read (ops/recording-cluster.ts).
   */
  runnerFor(onCommand: (record: NodeCommandEvidence) => void, onRead: (read: ClusterRead) => void): OperationRunner;
  /** The queue to take jobs from (jobs.ts queueName): a cluster's, or the default. */
  queueName?: string;
  /** The cluster of the clusters file this worker inspects (shown to the chat port for follow-ups). */
  cluster?: string | null;
  /** Values that must never appear in an evidence bundle (tokens, secrets): the bundle redacts them. */
  secrets?: readonly string[];
  /** Where answers go: the chat platform behind its port (Slack: src/slack/slack-reporter.ts). */
  chat: ChatReporter;
  settings: Pick<
    WorkerSettings,
    'concurrency' | 'jobTimeoutMs' | 'lockDurationMs' | 'stalledIntervalMs' | 'shutdownGraceMs'
  >;
  audit?: AuditTrail;
  /** Channel the audit summary of every job is also posted to. */
  auditChannel?: string | undefined;
  metrics?: K8snetMetrics;
  log: Logger;
}

export interface WorkerHost {
  worker: Worker<InspectionJobData, unknown, JobName>;
  /** Stop taking jobs; running ones get the grace period, then go back to the queue for another worker. */
  close(): Promise<void>;
}

type Outcome = 'done' | 'failed' | 'cancelled' | 'timed_out' | 'handed_back' | 'retrying';

/** Step texts carry node and interface names; metrics get the verb only (bounded label values). */
function stepLabel(step: string): string {
  return /^[a-z]+/i.exec(step)?.[0]?.toLowerCase() ?? 'other';
}

export function startWorkerHost(options: WorkerHostOptions): WorkerHost {
  const { chat, settings, metrics } = options;
  const shutdown = new AbortController();
  const memory = new ReportMemoryStore(options.connection, options.prefix);
  const bundles = new BundleStore(options.connection, options.prefix);
  const cancelledBy = new Map<string, string>();

  async function processInspection(
    job: Job<InspectionJobData, unknown, JobName>,
    token: string | undefined,
    cancelSignal: AbortSignal | undefined,
  ): Promise<void> {
    const { channel, title, user } = job.data;
    const jobId = String(job.id);
    if (job.name === 'bundle') return processBundle(job, jobId);
    const log = options.log.child({ jobId, command: job.data.command.op, user, channel });
    const ledger = new DeliveryLedger(options.connection, options.prefix, jobId);
    const started = Date.now();
    const view = (status: string, phase: JobStatusView['phase'] = 'active'): JobStatusView => ({
      title,
      status,
      askedBy: user,
      jobId,
      command: job.data.command,
      phase,
      cluster: job.data.cluster ?? null,
    });
    const once = ledger.once.bind(ledger);
    const parentId = job.data.parentId ?? (await once('parent', () => chat.postParent(channel, view('running'))));
    const place = { channel, parentId, ...(job.data.threadId ? { threadId: job.data.threadId } : {}) };
    const setStatus = (status: string, phase: JobStatusView['phase'] = 'active') =>
      chat
        .updateParent(channel, parentId, view(status, phase))
        .catch((err: unknown) => log.warn({ err: describeError(err) }, 'progress update failed'));
    const timeout = AbortSignal.timeout(settings.jobTimeoutMs);
    const signal = AbortSignal.any([timeout, shutdown.signal, ...(cancelSignal ? [cancelSignal] : [])]);
    const commands: NodeCommandRecord[] = [];
    const evidence: NodeCommandEvidence[] = [];
    const reads: ClusterRead[] = [];
    const runner = options.runnerFor(
      (record) => {
        evidence.push(record);
        const audited = auditFields(record);
        commands.push(audited);
        options.audit
          ?.record({ type: 'node_command', jobId, ...audited })
          .catch((err: unknown) => log.warn({ err: describeError(err) }, 'audit write failed'));
      },
      (read) => reads.push(read),
    );
    let lastProgress = 0;
    let step = 'starting';
    let stepStarted = Date.now();
    const endStep = () =>
      metrics?.stepSeconds.observe(
        { command: job.data.command.op, step: stepLabel(step) },
        (Date.now() - stepStarted) / 1000,
      );

    log.info({ attempt: job.attemptsMade + 1 }, 'job started');
    await setStatus(job.attemptsStarted > 1 ? 'running again (the first attempt did not finish)' : 'running');
    let outcome: Outcome = 'failed';
    let detail = '';
    try {
      const command =
        job.data.command.op === 'report' && job.data.memoryKey
          ? { ...job.data.command, previous: await memory.load(job.data.memoryKey) }
          : job.data.command;
      const result = await runner(command, {
        signal,
        onStep: (next) => {
          endStep();
          step = next;
          stepStarted = Date.now();
          log.info({ step: next }, 'step');
          if (Date.now() - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = Date.now();
          void setStatus(`running: ${next}`);
        },
      });
      endStep();
      // An operation that returned while being aborted may hold partial facts (captures cut short): not posted.
      if (signal.aborted) throw new Error('aborted');
      // The report names its cluster, and a scheduled run its schedule: people know the report by them.
      const { cluster: on, scheduleId } = job.data;
      const report =
        on || scheduleId
          ? {
              ...result.report,
              title: `${result.report.title}${on ? ` on ${on}` : ''}${scheduleId ? ` (schedule ${scheduleId})` : ''}`,
            }
          : result.report;
      // Kept before the buttons appear, so an "Evidence bundle" click finds it.
      await keepBundle(
        {
          jobId,
          command: commandText(job.data.command, job.data.cluster),
          user,
          channel,
          startedAt: new Date(started).toISOString(),
          finishedAt: new Date().toISOString(),
          outcome: 'done',
        },
        evidence,
        reads,
        result.result,
        report,
        log,
      );
      await chat.postReport(
        place,
        report,
        view(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`, 'done'),
        once,
      );
      if (job.data.memoryKey && result.memory) await memory.save(job.data.memoryKey, result.memory);
      outcome = 'done';
      detail = result.report.headline;
    } catch (err) {
      endStep();
      if (shutdown.signal.aborted && !timeout.aborted && !cancelSignal?.aborted && token) {
        // Shutting down: hand the job back (not a failed attempt); another worker runs it, the ledger skips what
        // this one already posted.
        outcome = 'handed_back';
        await setStatus('queued again (a worker shut down while running it)');
        await job.moveToWait(token);
        throw new WaitingError();
      }
      let by = '';
      if (cancelSignal?.aborted) {
        outcome = 'cancelled';
        by = cancelledBy.get(jobId) ?? '';
        detail = `cancelled while ${step}`;
      } else if (timeout.aborted) {
        outcome = 'timed_out';
        detail = `stopped: the job took longer than ${Math.round(settings.jobTimeoutMs / 1000)} s (while ${step}) and was cancelled`;
      } else {
        detail = `failed: ${describeError(err)}`;
        if (isK8snetError(err) && err.retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
          outcome = 'retrying';
          await setStatus(`retrying: ${describeError(err)}`);
          throw err;
        }
      }
      log.warn({ outcome, err: describeError(err), ...(by ? { cancelledBy: by } : {}) }, 'job did not complete');
      await chat.postNotice(place, detail, by || null, once);
      await setStatus(detail, 'ended');
      if (by) detail = `${detail} (by ${by})`;
    } finally {
      cancelledBy.delete(jobId);
      if (outcome !== 'handed_back' && outcome !== 'retrying') {
        metrics?.jobSeconds.observe({ command: job.data.command.op, result: outcome }, (Date.now() - started) / 1000);
        log.info({ outcome, ms: Date.now() - started, nodeCommands: commands.length }, 'job finished');
        const summary = {
          jobId,
          user,
          channel,
          command: title,
          result: outcome === 'done' ? 'done' : outcome === 'failed' ? 'failed' : 'cancelled',
          detail,
        } as const;
        await options.audit
          ?.record({ type: 'outcome', ...summary })
          .catch((err: unknown) => log.warn({ err: describeError(err) }, 'audit write failed'));
        if (options.auditChannel) {
          await chat
            .postAudit(options.auditChannel, { ...summary, commands }, once)
            .catch((err: unknown) => log.warn({ err: describeError(err) }, 'audit post failed'));
        }
      }
    }
  }

  async function keepBundle(
    meta: Parameters<typeof buildEvidenceBundle>[0]['job'],
    commands: NodeCommandEvidence[],
    reads: ClusterRead[],
    result: unknown,
    report: Parameters<typeof buildEvidenceBundle>[0]['report'],
    log: WorkerHostOptions['log'],
  ): Promise<void> {
    try {
      const bundle = await buildEvidenceBundle({
        job: meta,
        commands,
        reads,
        result,
        report,
        secrets: options.secrets ?? [],
      });
      if (!(await bundles.save(meta.jobId, bundle)))
        log.warn({ bytes: bundle.length }, 'evidence bundle too big to keep');
    } catch (err) {
      // The answer matters more than its bundle: a bundle that cannot be built or kept only warns.
      log.warn({ err: describeError(err) }, 'evidence bundle not kept');
    }
  }

  /** An "Evidence bundle" click: the kept bundle of another job into this job's thread, once. */
  async function processBundle(job: Job<InspectionJobData, unknown, JobName>, jobId: string): Promise<void> {
    const { channel, title, user, bundleOf } = job.data;
    const ledger = new DeliveryLedger(options.connection, options.prefix, jobId);
    const once = ledger.once.bind(ledger);
    const view = (status: string, phase: JobStatusView['phase']): JobStatusView => ({
      title,
      status,
      askedBy: user,
      jobId,
      command: null,
      phase,
      cluster: job.data.cluster ?? null,
    });
    const parentId =
      job.data.parentId ?? (await once('parent', () => chat.postParent(channel, view('running', 'active'))));
    const place = { channel, parentId, ...(job.data.threadId ? { threadId: job.data.threadId } : {}) };
    const of = displayJobId(bundleOf ?? '');
    const bundle = bundleOf ? await bundles.load(bundleOf) : null;
    let result: 'done' | 'failed' = 'done';
    if (bundle) {
      await chat.postFile(
        place,
        { filename: `k8snet-evidence-${of}.tar.gz`, title: `evidence of job ${of}`, content: bundle },
        `Evidence bundle of job ${of}: every node command with its output, the Kubernetes objects read, the captures, the result and the findings.`,
        once,
      );
      await chat.updateParent(channel, parentId, view(`done: ${bundle.length} bytes attached`, 'done'));
    } else {
      result = 'failed';
      const text = `the evidence of job ${of} is no longer kept (bundles are kept a day, only for finished jobs): use Re-run, then its Evidence bundle`;
      await chat.postNotice(place, text, null, once);
      await chat.updateParent(channel, parentId, view(text, 'ended'));
    }
    await options.audit
      ?.record({
        type: 'outcome',
        jobId,
        user,
        channel,
        command: title,
        result,
        detail: bundle ? `${bundle.length} bytes` : 'bundle not kept',
      })
      .catch((err: unknown) => options.log.warn({ err: describeError(err) }, 'audit write failed'));
  }

  const queue = options.queueName ?? QUEUE_NAME;
  const worker = new Worker<InspectionJobData, unknown, JobName>(queue, processInspection, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    // A job whose worker died is taken over once by another worker, then reported failed.
    maxStalledCount: 1,
  });
  worker.on('failed', (job, err) => {
    if (!(err instanceof WaitingError)) options.log.warn({ jobId: job?.id, err: describeError(err) }, 'job failed');
  });
  worker.on('error', (err) => options.log.error({ err: describeError(err) }, 'worker error'));
  if (options.subscriber) {
    void subscribeCancels(options.subscriber, options.prefix, ({ jobId, by }) => {
      cancelledBy.set(jobId, by);
      if (worker.cancelJob(jobId, `cancelled by ${by}`)) options.log.info({ jobId, by }, 'job cancelled');
      else cancelledBy.delete(jobId);
    }).catch((err: unknown) => options.log.error({ err: describeError(err) }, 'cannot listen for cancel requests'));
  }

  // Presence: the bot says in a job's thread when no worker serves its cluster's queue.
  const presence = workerPresenceKey(options.prefix, queue);
  const beat = () =>
    options.connection
      .set(presence, String(process.pid), 'EX', PRESENCE_TTL_SECONDS)
      .catch((err: unknown) => options.log.warn({ err: describeError(err) }, 'presence write failed'));
  void beat();
  const heartbeat = setInterval(() => void beat(), (PRESENCE_TTL_SECONDS * 1000) / 3);
  heartbeat.unref();

  let closing: Promise<void> | null = null;
  return {
    worker,
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        const finished = worker.close();
        const grace = new Promise<'grace'>((resolve) =>
          setTimeout(() => resolve('grace'), settings.shutdownGraceMs).unref(),
        );
        if ((await Promise.race([finished.then(() => 'closed' as const), grace])) === 'grace') {
          options.log.info('grace period over: handing running jobs back to the queue');
          shutdown.abort();
          await finished;
        }
      })();
      return closing;
    },
  };
}
