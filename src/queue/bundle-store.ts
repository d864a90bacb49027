/**
 * Evidence bundles kept in Redis for the "Evidence bundle" button: the .tar.gz of a finished job, for a day, if it
 * is not too big. Kept rather than rebuilt by running the job again: a second run measures another moment (other
 * counters, another capture) and would not be the evidence behind the answer in the thread.
 */
import type { RedisConnection } from './redis-url.ts';

/** As long as the buttons that ask for it work (slack/action-value.ts ACTION_VALUE_TTL_SECONDS). */
export const BUNDLE_TTL_SECONDS = 24 * 3600;
/**
 * A compressed bundle larger than this is not kept (the bundle's contents are capped at 8 MiB, so this is only
 * reached by tar overhead on many tiny entries); Redis runs with noeviction, so every kept byte counts.
 */
export const BUNDLE_STORE_MAX_BYTES = 10 * 1024 * 1024;

export class BundleStore {
  private readonly redis: RedisConnection;
  private readonly prefix: string;

  constructor(redis: RedisConnection, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private key(jobId: string): string {
    return `${this.prefix}:{k8snet}-bundle:${jobId}`;
  }

  /** False when the bundle is too big to keep. */
  async save(jobId: string, bundle: Buffer): Promise<boolean> {
    if (bundle.length > BUNDLE_STORE_MAX_BYTES) return false;
    await this.redis.set(this.key(jobId), bundle, 'EX', BUNDLE_TTL_SECONDS);
    return true;
  }

  async load(jobId: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key(jobId));
  }
}
