/**
 * One capture at a time per node interface, across every job and every worker: a Redis lock per interface
 * (SET NX PX with a random token; released only by its holder). A worker that dies mid-capture holds nothing for
 * long: the lock expires after the capture's own bound. A job that cannot get an interface in time fails with a
 * retryable error instead of capturing on top of another job's capture.
 *
 * Locks are per cluster: two clusters' nodes may well share names (k8s-node1) and interfaces (eth0), but one
 * cluster's captures never wait for another's.
 */
import { randomBytes } from 'node:crypto';
import { K8snetError } from '../errors.ts';
import type { CaptureLocks } from '../ops/deps.ts';
import type { RedisConnection } from './redis-url.ts';

const RELEASE_IF_OWNER = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export class RedisCaptureLocks implements CaptureLocks {
  private readonly redis: RedisConnection;
  private readonly prefix: string;
  private readonly waitMs: number;
  private readonly cluster: string | null;

  /**
   * `waitMs`: how long a capture waits for a busy interface (another job's capture) before giving up; `cluster`: the
   * clusters file's cluster whose nodes these are (null: the default cluster).
   */
  constructor(redis: RedisConnection, prefix: string, waitMs: number, cluster: string | null = null) {
    this.redis = redis;
    this.prefix = prefix;
    this.waitMs = waitMs;
    this.cluster = cluster;
  }

  keyOf(point: string): string {
    return `${this.prefix}:{k8snet}-capture-lock:${this.cluster ? `${this.cluster}:` : ''}${point}`;
  }

  async acquire(point: string, ttlMs: number): Promise<() => Promise<void>> {
    const key = this.keyOf(point);
    const token = randomBytes(12).toString('hex');
    const deadline = Date.now() + this.waitMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') {
        return async () => {
          await this.redis.eval(RELEASE_IF_OWNER, 1, key, token);
        };
      }
      if (Date.now() + delay > deadline) {
        throw new K8snetError(
          'timeout',
          `${point.replace(/\/\//, '/')} is busy with another capture (one capture at a time per node interface); try again in a moment`,
          { retryable: true },
        );
      }
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
