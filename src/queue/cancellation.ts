/**
 * Cancelling a running job: the job runs in whichever worker took it, so a cancel request is published on a Redis
 * channel every worker listens to; the worker running the job aborts it (BullMQ's cancelJob → the processor's
 * AbortSignal) and says so in the thread. Jobs still waiting are simply removed by the bot.
 */
import type { RedisConnection } from './redis-url.ts';

export interface CancelRequest {
  jobId: string;
  /** Slack user ID of whoever cancelled. */
  by: string;
}

export function cancelChannel(prefix: string): string {
  return `${prefix}:{k8snet}-cancel`;
}

export async function publishCancel(redis: RedisConnection, prefix: string, request: CancelRequest): Promise<number> {
  return redis.publish(cancelChannel(prefix), JSON.stringify(request));
}

/** Listens on a connection of its own (a subscribed connection can do nothing else). */
export async function subscribeCancels(
  subscriber: RedisConnection,
  prefix: string,
  onCancel: (request: CancelRequest) => void,
): Promise<void> {
  const channel = cancelChannel(prefix);
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    try {
      const r = JSON.parse(message) as Partial<CancelRequest>;
      if (typeof r.jobId === 'string' && typeof r.by === 'string') onCancel({ jobId: r.jobId, by: r.by });
    } catch {
      // Not ours; ignore.
    }
  });
  await subscriber.subscribe(channel);
}
