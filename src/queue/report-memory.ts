/**
 * What the previous health report of a schedule (or of a channel, for on-demand reports) found, kept in Redis so
 * the next report — on any worker, after any restart — can say what changed.
 */
import type { ProblemMemory } from '../ops/health-diagnosis.ts';
import type { RedisConnection } from './redis-url.ts';

/** A schedule that stops firing leaves its memory behind this long. */
const MEMORY_TTL_SECONDS = 90 * 24 * 3600;

export class ReportMemoryStore {
  private readonly redis: RedisConnection;
  private readonly prefix: string;

  constructor(redis: RedisConnection, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
  }

  private key(memoryKey: string): string {
    return `${this.prefix}:{k8snet}-report-memory:${memoryKey}`;
  }

  async load(memoryKey: string): Promise<ProblemMemory | null> {
    const raw = await this.redis.get(this.key(memoryKey));
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as ProblemMemory;
    } catch {
      return null;
    }
  }

  async save(memoryKey: string, memory: ProblemMemory): Promise<void> {
    await this.redis.set(this.key(memoryKey), JSON.stringify(memory), 'EX', MEMORY_TTL_SECONDS);
  }

  async remove(memoryKey: string): Promise<void> {
    await this.redis.del(this.key(memoryKey));
  }
}
