/** One audit record as one terminal line. Pure. */
import type { AuditRecord } from './audit-trail.ts';

export function formatAuditRecord(r: AuditRecord): string {
  const at = r.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  switch (r.type) {
    case 'request':
      return `${at}  job ${r.jobId}  ${r.user} in ${r.channel} asked: ${r.command}`;
    case 'refused':
      return `${at}  refused  ${r.user} in ${r.channel}: ${r.reason}`;
    case 'node_command': {
      const status = r.error ? `error: ${r.error}` : r.timedOut ? 'timed out' : `exit ${r.exitCode ?? '?'}`;
      return `${at}  job ${r.jobId}  ${r.node}: ${r.command}  → ${status} (${r.durationMs} ms)`;
    }
    case 'outcome':
      return `${at}  job ${r.jobId}  ${r.result}${r.detail ? `: ${r.detail}` : ''}`;
  }
}
