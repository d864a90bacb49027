/**
 * The audit trail: who asked for what from which channel, who was refused, and the exact commands run on which
 * nodes with their exit status. Kept in a capped Redis stream (XADD MAXLEN ~) so every bot and worker appends to
 * one place and operators read it with `k8snet audit`. Never holds command output, tokens or keys.
 */
import type { RedisConnection } from '../queue/redis-url.ts';

export type AuditEvent =
  | { type: 'request'; jobId: string; user: string; channel: string; command: string }
  | { type: 'refused'; user: string; channel: string; reason: string }
  | {
      type: 'node_command';
      jobId: string;
      node: string;
      command: string;
      exitCode: number | null;
      timedOut: boolean;
      durationMs: number;
      error?: string;
    }
  | {
      type: 'outcome';
      jobId: string;
      user: string;
      channel: string;
      command: string;
      result: 'done' | 'failed' | 'cancelled';
      detail: string;
    };

export type AuditRecord = AuditEvent & { id: string; at: string };

/** Enough for weeks of on-call use; the stream trims itself past this. */
export const AUDIT_MAX_ENTRIES = 50_000;

export class AuditTrail {
  private readonly redis: RedisConnection;
  readonly key: string;

  constructor(redis: RedisConnection, prefix: string) {
    this.redis = redis;
    this.key = `${prefix}:{k8snet}-audit`;
  }

  async record(event: AuditEvent): Promise<void> {
    const fields = Object.entries({ ...event, at: new Date().toISOString() }).flatMap(([k, v]) =>
      v === undefined ? [] : [k, String(v)],
    );
    await this.redis.xadd(this.key, 'MAXLEN', '~', String(AUDIT_MAX_ENTRIES), '*', ...fields);
  }

  /** The newest `count` entries, oldest first. */
  async recent(count: number): Promise<AuditRecord[]> {
    const entries = await this.redis.xrevrange(this.key, '+', '-', 'COUNT', count);
    return entries.reverse().map(([id, flat]) => toRecord(id, flat));
  }
}

const NUMBERS = new Set(['durationMs']);

function toRecord(id: string, flat: string[]): AuditRecord {
  const o: Record<string, unknown> = { id };
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const [k, v] = [flat[i]!, flat[i + 1]!];
    if (NUMBERS.has(k)) o[k] = Number(v);
    else if (k === 'exitCode') o[k] = v === 'null' ? null : Number(v);
    else if (k === 'timedOut') o[k] = v === 'true';
    else o[k] = v;
  }
  return o as AuditRecord;
}
