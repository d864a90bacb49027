/** One job's audit entry: who asked for what from which conversation, how it ended, and what ran on the nodes. */
import type { NodeCommandRecord } from './audited-shell.ts';

export interface JobAudit {
  jobId: string;
  user: string;
  channel: string;
  command: string;
  result: 'done' | 'failed' | 'cancelled';
  detail: string;
  commands: readonly NodeCommandRecord[];
}
