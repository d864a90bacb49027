/**
 * Scheduled reports, kept in Redis as BullMQ job schedulers on the inspection queue: they outlive any process,
 * and BullMQ adds exactly one job per tick however many workers run (the tick's job id is derived from the
 * scheduler id and its time). Each tick's job is an ordinary `report` job without a parent message (the worker posts
 * it) whose memoryKey `schedule:<id>` lets the report say what changed since the schedule's previous one.
 *
 * A schedule for a cluster of the clusters file lives on that cluster's queue, so its ticks run on that cluster's
 * workers; one without a cluster (every schedule made before there were clusters) on the default queue. Ids are
 * unique across all of them.
 */
import type { Queue } from 'bullmq';
import { InvalidInputError } from '../errors.ts';
import type { InspectionJobData, JobName } from '../queue/jobs.ts';
import type { RedisConnection } from '../queue/redis-url.ts';
import { ReportMemoryStore } from '../queue/report-memory.ts';
import {
  checkMinimumInterval,
  validateChannelId,
  validateCron,
  validateSampleSeconds,
  validateScheduleCluster,
  validateScheduleId,
  validateTimeZone,
  type ScheduleSpec,
} from './schedule-spec.ts';

/** Who made a schedule declared in the schedules file (not a Slack user: no mention, and the file owns it). */
export const SCHEDULES_FILE_USER = 'schedules-file';
/** An add claims its id in Redis first (bots may run as several replicas); long enough for a list and an upsert. */
const CLAIM_MS = 5000;

/** At most this many schedules: each one is a report job per tick; `list` must fit a message. */
export const MAX_SCHEDULES = 50;

export interface ScheduleEntry extends ScheduleSpec {
  /** Slack user ID of who added it, or SCHEDULES_FILE_USER. */
  createdBy: string;
  createdAt: string;
  /** Epoch ms of the next tick, as BullMQ has it. */
  next: number | null;
}

export type InspectionQueue = Queue<InspectionJobData, unknown, JobName>;

export function scheduleMemoryKey(id: string): string {
  return `schedule:${id}`;
}

export function scheduleTitle(id: string, cluster?: string): string {
  return `network health report${cluster ? ` on ${cluster}` : ''} (schedule ${id})`;
}

/** The job every tick of a schedule adds: a report into the schedule's channel, remembering its previous findings. */
export function scheduledJobData(spec: ScheduleSpec, createdBy: string, createdAt: string): InspectionJobData {
  const command = spec.sampleSeconds
    ? { op: 'report' as const, tunnelSampleSeconds: spec.sampleSeconds }
    : { op: 'report' as const };
  return {
    channel: spec.channel,
    user: createdBy,
    title: scheduleTitle(spec.id, spec.cluster),
    command,
    requestedAt: createdAt,
    memoryKey: scheduleMemoryKey(spec.id),
    scheduleId: spec.id,
    ...(spec.cluster ? { cluster: spec.cluster } : {}),
  };
}

/** Every field checked again here, whatever the caller already did: this is the last stop before Redis. */
export function validateSpec(spec: ScheduleSpec): ScheduleSpec {
  const checked = {
    id: validateScheduleId(spec.id, 'id'),
    cron: validateCron(spec.cron, 'cron'),
    tz: validateTimeZone(spec.tz, 'tz'),
    channel: validateChannelId(spec.channel, 'channel'),
  };
  return {
    ...checked,
    ...(spec.sampleSeconds === undefined
      ? {}
      : { sampleSeconds: validateSampleSeconds(spec.sampleSeconds, 'sampleSeconds') }),
    ...(spec.cluster === undefined ? {} : { cluster: validateScheduleCluster(spec.cluster, 'cluster') }),
  };
}

/** The inspection queues the schedulers live on, and Redis with the key prefix for claims and report memory. */
export interface ScheduleStore {
  /** The default cluster's queue. */
  queue: InspectionQueue;
  /** Each cluster's queue, by name (the clusters file's); absent: no clusters file, one queue. */
  clusterQueues?: ReadonlyMap<string, InspectionQueue>;
  redis: RedisConnection;
  prefix: string;
}

export class ReportSchedules {
  private readonly store: ScheduleStore;

  constructor(store: ScheduleStore) {
    this.store = store;
  }

  /** Every queue with its cluster (null: the default). */
  private queues(): [string | null, InspectionQueue][] {
    return [[null, this.store.queue], ...(this.store.clusterQueues ?? new Map<string, InspectionQueue>())];
  }

  private queueFor(cluster: string | undefined): InspectionQueue {
    if (cluster === undefined) return this.store.queue;
    const queue = this.store.clusterQueues?.get(cluster);
    if (!queue)
      throw new InvalidInputError(
        '--cluster',
        `no cluster ${JSON.stringify(cluster)}; \`/k8snet clusters\` lists them`,
      );
    return queue;
  }

  async list(): Promise<ScheduleEntry[]> {
    const out: ScheduleEntry[] = [];
    for (const [cluster, queue] of this.queues()) {
      for (const s of await queue.getJobSchedulers(0, -1, true)) {
        const data = s.template?.data;
        // BullMQ 6 returns a scheduler's id as its `key`.
        const id = s.id ?? s.key;
        if (!id || !s.pattern || !data || data.command?.op !== 'report') continue;
        const sample = data.command.tunnelSampleSeconds;
        out.push({
          id,
          cron: s.pattern,
          tz: s.tz ?? 'UTC',
          channel: data.channel,
          ...(sample ? { sampleSeconds: sample } : {}),
          ...(cluster ? { cluster } : {}),
          createdBy: data.user,
          createdAt: data.requestedAt,
          next: s.next ?? null,
        });
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<ScheduleEntry | null> {
    return (await this.list()).find((s) => s.id === id) ?? null;
  }

  /**
   * A new schedule (id null: the next free `report-N`); refuses an id in use, too many schedules, or (from Slack) a
   * pattern firing too often.
   */
  async add(
    spec: Omit<ScheduleSpec, 'id'> & { id: string | null },
    createdBy: string,
    options: { minIntervalSeconds?: number } = {},
  ): Promise<ScheduleEntry> {
    validateSpec({ ...spec, id: spec.id ?? 'unnamed' });
    if (options.minIntervalSeconds !== undefined)
      checkMinimumInterval(validateCron(spec.cron), spec.tz, options.minIntervalSeconds);
    const existing = await this.list();
    if (existing.length >= MAX_SCHEDULES)
      throw new InvalidInputError('schedule', `there are already ${MAX_SCHEDULES} schedules; remove one first`);
    const id = spec.id ?? (await this.claimFreeId(existing));
    if (spec.id !== null && (existing.some((s) => s.id === id) || !(await this.claim(id))))
      throw new InvalidInputError('ID', `a schedule called ${id} exists already; remove it first or pick another --id`);
    await this.upsert({ ...spec, id }, createdBy, new Date().toISOString());
    return (await this.get(id))!;
  }

  /** Two adds of one id at once: only the first claim succeeds (the claim expires by itself). */
  private async claim(id: string): Promise<boolean> {
    return (await this.store.redis.set(this.claimKey(id), '1', 'PX', CLAIM_MS, 'NX')) === 'OK';
  }

  private claimKey(id: string): string {
    return `${this.store.prefix}:{k8snet}-schedule-claim:${id}`;
  }

  /** The first `report-N` nobody uses or is adding right now. */
  private async claimFreeId(existing: readonly ScheduleEntry[]): Promise<string> {
    const taken = new Set(existing.map((s) => s.id));
    for (let i = 1; ; i++) if (!taken.has(`report-${i}`) && (await this.claim(`report-${i}`))) return `report-${i}`;
  }

  /** Creates or replaces the scheduler; its next tick is recomputed from the pattern. */
  async upsert(spec: ScheduleSpec, createdBy: string, createdAt: string): Promise<void> {
    const checked = validateSpec(spec);
    const queue = this.queueFor(checked.cluster);
    // A schedule moved to another cluster (the schedules file changed it) leaves its old queue: one id, one queue.
    for (const [, other] of this.queues()) if (other !== queue) await other.removeJobScheduler(checked.id);
    // BullMQ types the scheduler id as the queue's job-name union; at run time it is any string.
    await queue.upsertJobScheduler(
      checked.id as JobName,
      { pattern: checked.cron, tz: checked.tz },
      { name: 'inspect', data: scheduledJobData(checked, createdBy, createdAt) },
    );
  }

  /** Removes the scheduler, the tick already waiting for it, and the memory of its previous report. False: no such schedule. */
  async remove(id: string): Promise<boolean> {
    const checked = validateScheduleId(id);
    let removed = false;
    for (const [, queue] of this.queues()) if (await queue.removeJobScheduler(checked)) removed = true;
    if (removed)
      await Promise.all([
        new ReportMemoryStore(this.store.redis, this.store.prefix).remove(scheduleMemoryKey(checked)),
        this.store.redis.del(this.claimKey(checked)),
      ]);
    return removed;
  }
}
