/**
 * What the worker host needs of a chat platform, and nothing more: a parent message per job that shows its
 * progress, replies in its thread, files, a private notice, the audit summary. The worker hands over neutral data
 * (a Report, a status line, an audit entry); rendering to a platform's format happens behind this port. Slack is
 * the one implementation (src/slack/slack-reporter.ts); another platform is one more.
 */
import type { Report } from '../model/report.ts';
import type { JobAudit } from '../audit/job-audit.ts';
import type { OperationCommand } from '../ops/run-operation.ts';

/** How a job's parent message reads: what was asked, where it is now, and who asked. */
export interface JobStatusView {
  title: string;
  /** "running: capturing on k8s-node1/eth0", "done in 4.2 s", "failed: …". */
  status: string;
  /** The platform's user ID of who asked (or who made the schedule). */
  askedBy: string;
  /** The job, for the controls a platform puts on the message (Cancel, follow-ups). */
  jobId: string;
  /** The command that ran, for the platform to offer what fits it next; null when there is none to offer. */
  command: OperationCommand | null;
  /** active: queued or running; done: finished with a report; ended: failed, cancelled or stopped. */
  phase: 'active' | 'done' | 'ended';
  /** The cluster of the clusters file it ran on (a follow-up runs there too); null: the environment's own. */
  cluster: string | null;
}

/** Where a job answers: its parent message, and the thread that holds it (a follow-up's parent is itself a reply). */
export interface JobPlace {
  channel: string;
  parentId: string;
  /** The thread's first message when the parent is a reply in it; absent: the parent starts the thread. */
  threadId?: string;
}

/** A file for the job's thread (an evidence bundle). */
export interface ChatFile {
  filename: string;
  title: string;
  content: Buffer;
}

/**
 * Idempotent posting: runs `post` only if nothing was recorded under `key` for this job yet, and records the
 * message id it returns (the worker's delivery ledger). A retried job skips what an earlier attempt posted.
 */
export type PostOnce = (key: string, post: () => Promise<string>) => Promise<string>;

export interface ChatReporter {
  /** Posts a job's parent message into `channel`; resolves to its id (its thread holds the replies). */
  postParent(channel: string, view: JobStatusView): Promise<string>;
  /** Rewrites the parent message (progress). */
  updateParent(channel: string, parentId: string, view: JobStatusView): Promise<void>;
  /** A finished job: its report into the thread (replies, then files), each piece once, then the parent updated. */
  postReport(at: JobPlace, report: Report, view: JobStatusView, once: PostOnce): Promise<void>;
  /** A job that did not complete: one warning in its thread, naming who stopped it when someone did. */
  postNotice(at: JobPlace, text: string, by: string | null, once: PostOnce): Promise<void>;
  /** A file into the job's thread, with a line saying what it is. */
  postFile(at: JobPlace, file: ChatFile, text: string, once: PostOnce): Promise<void>;
  /** The audit summary of a job, into the audit channel. */
  postAudit(channel: string, audit: JobAudit, once: PostOnce): Promise<void>;
}
