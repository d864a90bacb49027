/**
 * The inspection job queue (BullMQ on Redis). The queue name carries a {hash tag} so every key of the queue lands in
 * one slot and BullMQ works on a Redis Cluster too. Jobs carry where to answer (channel, parent message) and who
 * asked (ids of the chat platform, opaque here), with the parsed, validated command.
 */
import { Queue } from 'bullmq';
import type { RedisConnection } from './redis-url.ts';
import type { OperationCommand } from '../ops/run-operation.ts';

export const QUEUE_NAME = '{k8snet}-inspections';
/** `inspect`: run a command; `bundle`: post the kept evidence bundle of another job (`bundleOf`). */
export type JobName = 'inspect' | 'bundle';

export interface InspectionJobData {
  /** The chat conversation to answer in (a Slack channel ID). */
  channel: string;
  /** The id of the parent message the bot posted; replies go into its thread. Absent (scheduled runs): the worker posts it. */
  parentId?: string;
  /** A follow-up (a button clicked): the thread its parent was posted in, where its replies go too. */
  threadId?: string;
  /** The cluster of the clusters file it runs on (its queue's); absent: the environment's own. */
  cluster?: string;
  /** `bundle` jobs: the job whose evidence bundle to post. */
  bundleOf?: string;
  /** The chat platform's user ID of who asked (or who created the schedule). */
  user: string;
  title: string;
  command: OperationCommand;
  requestedAt: string;
  /** Reports: where the previous report's problems are kept, to say what changed (a schedule's id, or the channel). */
  memoryKey?: string;
  /** Set on a schedule's runs: the schedule's id, shown on the report. */
  scheduleId?: string;
}

/** A job retried after a crash or a retryable error; never more (captures are not free). */
export const JOB_ATTEMPTS = 2;

/**
 * One queue per cluster of the clusters file, so a cluster's jobs wait for that cluster's workers; null: the default
 * queue (the environment's own cluster). The {hash tag} stays the same: every queue shares one Redis Cluster slot.
 */
export function queueName(cluster: string | null | undefined): string {
  return cluster ? `${QUEUE_NAME}-${cluster}` : QUEUE_NAME;
}

/** Where workers of a queue say they are alive (refreshed well within its TTL): "no worker for this cluster". */
export function workerPresenceKey(prefix: string, queue: string): string {
  return `${prefix}:{k8snet}-workers:${queue}`;
}

export function createInspectionQueue(
  connection: RedisConnection,
  prefix: string,
  cluster?: string | null,
): Queue<InspectionJobData, unknown, JobName> {
  return new Queue<InspectionJobData, unknown, JobName>(queueName(cluster), {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 1000 },
    },
  });
}

/** What a command is called in messages: "trace default/pod-src → default/pod-dest". */
export function commandTitle(c: OperationCommand): string {
  switch (c.op) {
    case 'trace':
      return `trace ${c.namespace}/${c.src} → ${c.dstNamespace ?? c.namespace}/${c.dst}${c.port !== undefined ? `:${c.port}` : ''}`;
    case 'nodeport':
      return `nodeport ${c.port}`;
    case 'svc':
      return `svc ${c.namespace}/${c.name}`;
    case 'pod':
      return `pod ${c.namespace}/${c.name}`;
    case 'policy':
      return `policy ${c.namespace}/${c.name}`;
    case 'routes':
      return `routes ${c.node}`;
    case 'report':
      return 'network health report';
  }
}

/** Whether a command captures packets (the stricter allow-list): an inspection's capture or a report's tunnel sample. */
export function capturesPackets(c: OperationCommand): boolean {
  if (c.op === 'report') return (c.tunnelSampleSeconds ?? 0) > 0;
  return 'capture' in c && c.capture.enabled;
}

/** Command jobs are `j<number>`; people see and type the number. */
export function displayJobId(jobId: string): string {
  return /^j\d+$/.test(jobId) ? jobId.slice(1) : jobId;
}
