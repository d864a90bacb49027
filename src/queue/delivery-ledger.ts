/**
 * What a job has already posted to Slack, kept in Redis per job: a retried job (after a worker crash or an error)
 * skips every reply it already made, so nothing appears twice.
 */
import type { RedisConnection } from './redis-url.ts';

/** Ledgers outlive their job's retries by far, then expire. */
const LEDGER_TTL_SECONDS = 7 * 24 * 3600;

export class DeliveryLedger {
  private readonly redis: RedisConnection;
  private readonly key: string;

  constructor(redis: RedisConnection, prefix: string, jobId: string) {
    this.redis = redis;
    // Same {hash tag} as the queue: one slot on a Redis Cluster.
    this.key = `${prefix}:{k8snet}-ledger:${jobId}`;
  }

  /** Runs `post` once per step key across retries; returns the ts it posted (now or before). */
  async once(step: string, post: () => Promise<string>): Promise<string> {
    const done = await this.redis.hget(this.key, step);
    if (done !== null) return done;
    const ts = await post();
    await this.redis.multi().hset(this.key, step, ts).expire(this.key, LEDGER_TTL_SECONDS).exec();
    return ts;
  }
}
