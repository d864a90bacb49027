/**
 * The Slack side: a Bolt app serving `/k8snet` and its buttons over HTTP (signature and timestamp checked by Bolt's
 * receiver) or Socket Mode. The listener acknowledges first, then validates, authorizes, posts the parent message and
 * enqueues — all real work happens in a worker — so the acknowledgement beats Slack's 3-second deadline under load.
 * Refusals are sent privately through the acknowledgement itself (an ephemeral response) and nothing is queued.
 *
 * A button click (block_actions) is a command like a typed one: acknowledged first; its value's tag and expiry
 * checked (action-value.ts); the command text in it parsed again with the same grammar; the allow-lists and the
 * capture list checked for whoever clicked; audited; then queued as a new job whose parent is a reply in the thread.
 */
import bolt from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Queue } from 'bullmq';
import { describeError, InvalidInputError } from '../errors.ts';
import { parseSlackCommand, SLACK_HELP, type CaptureBoundsFor, type ParsedSlackCommand } from '../command/grammar.ts';
import { createLimiter } from '../ops/concurrency.ts';
import { statusMessage } from './slack-blocks.ts';
import { deriveActionKey, openActionValue } from './action-value.ts';
import { ACTION_PREFIX, followUpId, jobButtons, type ButtonSettings } from './job-buttons.ts';
import type { OperationCommand } from '../ops/run-operation.ts';
import {
  capturesPackets,
  commandTitle,
  createInspectionQueue,
  displayJobId,
  queueName,
  workerPresenceKey,
  type InspectionJobData,
  type JobName,
} from '../queue/jobs.ts';
import { clusterCaptureBounds, clusterForChannel, findCluster, type ClustersFile } from '../clusters/clusters-file.ts';
import { publishCancel } from '../queue/cancellation.ts';
import type { RedisConnection } from '../queue/redis-url.ts';
import type { AuditTrail } from '../audit/audit-trail.ts';
import type { AccessSettings, CaptureSettings, SlackSettings } from '../config.ts';
import type { Logger } from '../observability/logger.ts';
import type { K8snetMetrics } from '../observability/metrics.ts';
import { AccessPolicy } from './access.ts';
import { ReportSchedules } from '../schedule/report-schedules.ts';
import { runScheduleCommand } from './schedule-command.ts';
import { DEFAULT_MIN_INTERVAL_SECONDS, type ScheduleSettings } from '../config.ts';

const { App, HTTPReceiver, LogLevel } = bolt;

/** Commands whose posting and queueing run at once; measured in bench/slack-ack-latency.ts (p99 of 50 acks). */
const AFTER_ACK_CONCURRENCY = 4;

export interface BotOptions {
  slack: SlackSettings;
  access: AccessSettings;
  capture: Pick<CaptureSettings, 'defaultSeconds' | 'maxSeconds'>;
  queue: Queue<InspectionJobData, unknown, JobName>;
  /** For job numbers and cancel requests. */
  redis: RedisConnection;
  prefix: string;
  audit?: AuditTrail;
  metrics?: K8snetMetrics;
  log: Logger;
  /** `/k8snet schedule`: how often a schedule added from Slack may fire (default once a minute). */
  schedules?: Pick<ScheduleSettings, 'minIntervalSeconds'>;
  /** The clusters file (K8SNET_CLUSTERS_FILE): one queue per cluster, channels' default clusters. */
  clusters?: ClustersFile | null;
  /** Each cluster's queue, by name; made here when absent. Closed by the bot's close() either way. */
  clusterQueues?: ReadonlyMap<string, Queue<InspectionJobData, unknown, JobName>>;
}

export interface BotHandle {
  /** The HTTP receiver's port (0 in Socket Mode). */
  port: number;
  client: WebClient;
  close(): Promise<void>;
}

type Respond = (message: { response_type: 'ephemeral'; text: string; replace_original?: boolean }) => Promise<unknown>;

/** Where a clicked follow-up answers: the thread of the message whose button was clicked. */
interface FollowUpPlace {
  threadId: string;
  /** The button's label, for the audit trail ("Capture again (10 s)"). */
  button: string;
}

/** The parts of a block_actions payload a click needs (Bolt's BlockAction, narrowed to buttons). */
interface ButtonClick {
  user: { id: string };
  channel?: { id: string };
  container?: { channel_id?: string; message_ts?: string; thread_ts?: string };
  message?: { ts: string; thread_ts?: string };
}

/** What to tell the user when the parent message or the queue failed; Slack's channel errors say what to do. */
export function whyNotQueued(err: unknown): string {
  const code = (err as { data?: { error?: unknown } }).data?.error;
  if (code === 'not_in_channel' || code === 'channel_not_found')
    return 'k8snet is not in this channel: invite it with `/invite @k8snet` (in a direct message between people, use your DM with k8snet — Apps → k8snet — or a channel), then try again.';
  return `could not queue the command: ${describeError(err)}`;
}

export async function startBot(options: BotOptions): Promise<BotHandle> {
  const { slack, queue, log, metrics } = options;
  const socketMode = slack.appToken !== undefined;
  const clientOptions = slack.apiUrl ? { slackApiUrl: slack.apiUrl } : {};
  const receiver = socketMode
    ? undefined
    : new HTTPReceiver({
        signingSecret: slack.signingSecret,
        endpoints: '/slack/events',
        port: slack.port,
        logLevel: LogLevel.ERROR,
      });
  const app = new App({
    token: slack.botToken,
    ...(socketMode ? { appToken: slack.appToken!, socketMode: true } : { receiver: receiver! }),
    clientOptions,
    logLevel: LogLevel.ERROR,
  });
  const client = app.client;
  const access = new AccessPolicy(
    options.access,
    async (usergroup) => (await client.usergroups.users.list({ usergroup })).users ?? [],
  );
  const jobSeq = `${options.prefix}:{k8snet}-job-seq`;
  // The work after an acknowledgement (Slack and Redis calls) shares the event loop with the next acknowledgements:
  // a burst of commands must not queue its acks behind everyone's posting (bench/slack-ack-latency.ts).
  const afterAck = createLimiter(AFTER_ACK_CONCURRENCY);
  const audit = (event: Parameters<AuditTrail['record']>[0]) =>
    options.audit?.record(event).catch((err: unknown) => log.warn({ err: describeError(err) }, 'audit write failed'));
  // Button values are sealed with a key derived from K8SNET_ACTION_KEY, else the signing secret (neither: no buttons).
  const actionSecret = slack.actionSecret ?? slack.signingSecret;
  const buttons: ButtonSettings = {
    key: actionSecret ? deriveActionKey(actionSecret) : null,
    bounds: options.capture,
  };
  const cancelButton = (jobId: string, command: OperationCommand, cluster: string | null) =>
    jobButtons(buttons, { jobId, command, phase: 'active', cluster });
  const clusters = options.clusters ?? null;
  // One queue per cluster of the clusters file (jobs.ts queueName); `queue` is the environment's own cluster's.
  const clusterQueues =
    options.clusterQueues ??
    new Map(
      (clusters?.clusters ?? []).map(
        (c) => [c.name, createInspectionQueue(options.redis, options.prefix, c.name)] as const,
      ),
    );
  const queueFor = (cluster: string | null) => (cluster ? clusterQueues.get(cluster)! : queue);
  const hasWorker = async (cluster: string | null) =>
    (await options.redis.exists(workerPresenceKey(options.prefix, queueName(cluster)))) === 1;
  /** A job id is unique across queues (one counter): the first queue that has it. */
  async function findJob(jobId: string) {
    for (const q of [queue, ...clusterQueues.values()]) {
      const job = await q.getJob(jobId);
      if (job) return job;
    }
    return undefined;
  }
  /** --cluster NAME, else the channel's cluster in the clusters file, else the environment's own (null). */
  function clusterOf(asked: string | undefined, channel: string): string | null {
    if (asked === undefined) return clusterForChannel(clusters, channel);
    if (!clusters)
      throw new InvalidInputError(
        '--cluster',
        'this k8snet knows one cluster only (no K8SNET_CLUSTERS_FILE); leave out --cluster',
      );
    if (!findCluster(clusters, asked))
      throw new InvalidInputError('--cluster', `no cluster ${JSON.stringify(asked)}; \`/k8snet clusters\` lists them`);
    return asked;
  }

  /**
   * The capture window a command typed in `channel` may ask for: its cluster's own (the clusters file's capture
   * limits, as its workers have them), else the deployment's.
   */
  const boundsIn =
    (channel: string): CaptureBoundsFor =>
    (asked) => {
      const entry = clusters && findCluster(clusters, asked ?? clusterForChannel(clusters, channel) ?? '');
      return entry ? clusterCaptureBounds(entry, options.capture) : options.capture;
    };

  async function listClusters(respond: Respond, channel: string): Promise<void> {
    const here = clusterForChannel(clusters, channel);
    const lines = [`*Clusters* (this channel uses *${here ?? 'the default cluster'}*):`];
    lines.push(
      `• _default_ — the workers' own kubeconfig and SSH settings; ${(await hasWorker(null)) ? 'a worker is running' : ':warning: no worker is running'}`,
    );
    for (const c of clusters?.clusters ?? []) {
      const channels =
        c.channels.length > 0 ? `default in ${c.channels.map((id) => `<#${id}>`).join(', ')}` : 'by `--cluster` only';
      lines.push(
        `• \`${c.name}\` — ${channels}; ${(await hasWorker(c.name)) ? 'a worker is running' : `:warning: no worker is running (\`k8snet worker --cluster ${c.name}\`)`}`,
      );
    }
    if (!clusters) lines.push('No clusters file (K8SNET_CLUSTERS_FILE): every command goes to the default cluster.');
    await respond({ response_type: 'ephemeral', text: lines.join('\n') });
  }

  async function refuse(
    respond: Respond,
    user: string,
    channel: string,
    command: string,
    result: 'invalid' | 'denied' | 'refused_button',
    reason: string,
  ): Promise<void> {
    // The answer first (for bad input it is the acknowledgement itself), the records after.
    const text =
      result === 'invalid'
        ? `:no_entry: ${reason}\n\n${SLACK_HELP}`
        : result === 'denied'
          ? `:no_entry: Not allowed: ${reason}`
          : `:no_entry: ${reason}`;
    await respond({ response_type: 'ephemeral', text });
    metrics?.commands.inc({ command, result });
    log.info({ user, channel, command, result, reason }, 'command refused');
    await audit({ type: 'refused', user, channel, reason });
  }

  async function cancel(respond: Respond, user: string, channel: string, jobId: string): Promise<void> {
    const shown = displayJobId(jobId);
    const job = await findJob(jobId);
    if (!job || job.data.channel !== channel) {
      await respond({ response_type: 'ephemeral', text: `No job ${shown} in this channel.` });
      return;
    }
    const state = await job.getState();
    if (['waiting', 'delayed', 'prioritized'].includes(state)) {
      await job.remove();
      if (job.data.parentId)
        await client.chat.update({
          channel,
          ts: job.data.parentId,
          ...statusMessage(job.data.title, 'cancelled before it started', { user: job.data.user }),
        });
      await respond({ response_type: 'ephemeral', text: `Job ${shown} was cancelled before it started.` });
    } else if (state === 'active') {
      const workers = await publishCancel(options.redis, options.prefix, { jobId, by: user });
      await respond({
        response_type: 'ephemeral',
        text:
          workers > 0
            ? `Asked the worker running job ${shown} to stop; the thread will say when it has.`
            : `No worker is listening for job ${shown}; it ends at its time limit.`,
      });
    } else {
      await respond({
        response_type: 'ephemeral',
        text: `Job ${shown} has already ${state === 'failed' ? 'ended' : 'finished'}.`,
      });
    }
    metrics?.commands.inc({ command: 'cancel', result: state });
    await audit({ type: 'request', jobId, user, channel, command: `cancel ${jobId}` });
  }

  app.command('/k8snet', async ({ command, ack, respond }) => {
    const user = command.user_id;
    const channel = command.channel_id;
    let parsed;
    try {
      parsed = parseSlackCommand(command.text, boundsIn(channel));
    } catch (err) {
      await refuse(ack, user, channel, 'invalid', 'invalid', describeError(err));
      return;
    }
    if (parsed.kind === 'help') {
      await ack({ response_type: 'ephemeral', text: SLACK_HELP });
      metrics?.commands.inc({ command: 'help', result: 'answered' });
      return;
    }
    await ack();
    // Let requests already waiting on their sockets be acknowledged before this one's work starts.
    await new Promise((resolve) => setImmediate(resolve));
    await afterAck(() => handle(parsed, user, channel, respond));
  });

  app.action<bolt.BlockAction>(
    { type: 'block_actions', action_id: new RegExp(`^${ACTION_PREFIX}`) },
    async ({ ack, body, action, respond }) => {
      // Slack gives a click 3 seconds too: acknowledge, then check and queue.
      await ack();
      await new Promise((resolve) => setImmediate(resolve));
      const { action_id: actionId, value } = action as { action_id: string; value?: string };
      const label = (action as { text?: { text?: string } }).text?.text ?? actionId;
      // Answers to a click are new ephemeral messages; the message with the buttons stays as it is.
      await afterAck(() => click(body, actionId, value, label, (m) => respond({ ...m, replace_original: false })));
    },
  );

  async function click(
    body: ButtonClick,
    actionId: string,
    value: string | undefined,
    label: string,
    respond: Respond,
  ): Promise<void> {
    const user = body.user.id;
    const channel = body.channel?.id ?? body.container?.channel_id ?? '';
    const messageTs = body.message?.ts ?? body.container?.message_ts;
    const threadId = body.message?.thread_ts ?? body.container?.thread_ts ?? messageTs;
    const id = followUpId(actionId);
    if (!id || !threadId)
      return refuse(respond, user, channel, 'button', 'refused_button', "this button is not one of k8snet's.");
    if (!buttons.key)
      return refuse(
        respond,
        user,
        channel,
        'button',
        'refused_button',
        'buttons need K8SNET_ACTION_KEY (or SLACK_SIGNING_SECRET), the same on the bot and the workers; type the command instead.',
      );
    const opened = openActionValue(buttons.key, actionId, value);
    if (!opened.ok) return refuse(respond, user, channel, 'button', 'refused_button', opened.reason);
    // The value's command is parsed again as if typed: a button never asks for more than a person could type.
    let parsed: ParsedSlackCommand;
    try {
      parsed = parseSlackCommand(opened.value.text, boundsIn(channel));
    } catch (err) {
      return refuse(
        respond,
        user,
        channel,
        'button',
        'refused_button',
        `this button's command is no longer valid here: ${describeError(err)}`,
      );
    }
    if (parsed.kind !== 'operation')
      return refuse(respond, user, channel, 'button', 'refused_button', "this button's value holds no command.");
    if (id === 'cancel') {
      const verdict = await access.check(user, channel, false);
      if (!verdict.ok) return refuse(respond, user, channel, 'cancel', 'denied', verdict.reason);
      return cancel(respond, user, channel, opened.value.jobId);
    }
    const place = { threadId, button: label };
    if (id === 'bundle') {
      // The value came with a message in this conversation; its job must have answered here too.
      const original = await findJob(opened.value.jobId);
      if (original && original.data.channel !== channel)
        return refuse(respond, user, channel, 'bundle', 'refused_button', 'that job did not run in this conversation.');
      return handle(parsed, user, channel, respond, place, opened.value.jobId);
    }
    return handle(parsed, user, channel, respond, place);
  }

  /**
   * A typed command, or a clicked one (`followUp`: answered in that thread). `bundleOf`: not the command itself but
   * that job's evidence bundle — allowed to whoever may run the command (its pcaps need the capture list when it
   * captured).
   */
  async function handle(
    parsed: Exclude<ParsedSlackCommand, { kind: 'help' }>,
    user: string,
    channel: string,
    respond: Respond,
    followUp?: FollowUpPlace,
    bundleOf?: string,
  ): Promise<void> {
    const verb = bundleOf ? 'bundle' : parsed.kind === 'operation' ? parsed.command.op : parsed.kind;
    try {
      const verdict = await access.check(user, channel, parsed.kind === 'operation' && capturesPackets(parsed.command));
      if (!verdict.ok) return await refuse(respond, user, channel, verb, 'denied', verdict.reason);
      if (parsed.kind === 'cancel') return await cancel(respond, user, channel, parsed.jobId);
      if (parsed.kind === 'clusters') return await listClusters(respond, channel);
      if (parsed.kind === 'schedule') {
        const answer = await runScheduleCommand(parsed, {
          schedules: new ReportSchedules({ queue, clusterQueues, redis: options.redis, prefix: options.prefix }),
          user,
          channel,
          // The cluster a schedule reports on: --cluster, else the default of the channel its reports go to.
          clusterFor: (asked, target) => clusterOf(asked, target),
          minIntervalSeconds: options.schedules?.minIntervalSeconds ?? DEFAULT_MIN_INTERVAL_SECONDS,
          authorize: (target, captures) => access.check(user, target, captures),
        });
        await respond({ response_type: 'ephemeral', text: answer.text });
        for (const note of answer.notes) {
          // The change is made; a note that cannot be posted only warns (reports there will fail the same way).
          await client.chat.postMessage({ channel: note.channel, text: note.text }).catch((err: unknown) =>
            respond({
              response_type: 'ephemeral',
              text: `:warning: could not post in <#${note.channel}> (${describeError(err)}); scheduled reports there need k8snet in the channel: \`/invite @k8snet\`.`,
            }),
          );
        }
        metrics?.commands.inc({ command: verb, result: answer.result });
        log.info({ user, channel, command: answer.audit, result: answer.result }, 'schedule command');
        return await audit({ type: 'request', jobId: '-', user, channel, command: answer.audit });
      }

      let cluster: string | null;
      try {
        cluster = clusterOf(parsed.cluster, channel);
      } catch (err) {
        return await refuse(respond, user, channel, verb, followUp ? 'refused_button' : 'invalid', describeError(err));
      }
      const target = queueFor(cluster);
      const title = `${bundleOf ? `evidence bundle of job ${displayJobId(bundleOf)}` : commandTitle(parsed.command)}${cluster ? ` on ${cluster}` : ''}`;
      // Our own job ids (j1, j2…): the number is on the parent message before the job exists, for `cancel`.
      const jobId = `j${await options.redis.incr(jobSeq)}`;
      const thread = followUp ? { thread_ts: followUp.threadId } : {};
      const parent = await client.chat.postMessage({
        channel,
        ...thread,
        ...statusMessage(title, `queued as job ${displayJobId(jobId)}`, {
          user,
          buttons: bundleOf ? [] : cancelButton(jobId, parsed.command, cluster),
        }),
      });
      const data = {
        channel,
        parentId: String(parent.ts),
        user,
        title,
        command: parsed.command,
        requestedAt: new Date().toISOString(),
        ...(followUp ? { threadId: followUp.threadId } : {}),
        ...(cluster ? { cluster } : {}),
        ...(parsed.command.op === 'report' ? { memoryKey: `channel:${cluster ? `${cluster}:` : ''}${channel}` } : {}),
      };
      if (bundleOf) await target.add('bundle', { ...data, bundleOf }, { jobId });
      else await target.add('inspect', data, { jobId });
      // With many clusters, a queue may well have no worker (the default one too); with one, workers are a given.
      if ((cluster || clusters) && !(await hasWorker(cluster))) {
        // Said in the thread, for everyone there: the job is queued, but nothing will pick it up yet.
        const which = cluster ? `cluster \`${cluster}\`` : 'the default cluster';
        const start = cluster ? `k8snet worker --cluster ${cluster}` : 'k8snet worker';
        await client.chat.postMessage({
          channel,
          thread_ts: followUp?.threadId ?? String(parent.ts),
          text: `No worker is running for ${which.replaceAll('`', '')}`,
          blocks: [
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: `:hourglass: No worker is running for ${which} right now: job ${displayJobId(jobId)} waits in its queue until one starts (\`${start}\`), or \`/k8snet cancel ${displayJobId(jobId)}\`.`,
              },
            },
          ],
        });
      }
      metrics?.commands.inc({ command: verb, result: 'queued' });
      log.info(
        { jobId, user, channel, command: verb, ...(followUp ? { button: followUp.button } : {}) },
        'command queued',
      );
      await audit({
        type: 'request',
        jobId,
        user,
        channel,
        command: followUp ? `${title} (button: ${followUp.button})` : title,
      });
    } catch (err) {
      metrics?.commands.inc({ command: verb, result: 'error' });
      log.error({ user, channel, command: verb, err: describeError(err) }, 'could not queue the command');
      await respond({ response_type: 'ephemeral', text: `:warning: ${whyNotQueued(err)}` }).catch(() => undefined);
    }
  }

  await app.start(slack.port);
  return {
    port: socketMode ? 0 : slack.port,
    client,
    close: async () => {
      await app.stop();
      await Promise.all([...clusterQueues.values()].map((q) => q.close()));
    },
  };
}
