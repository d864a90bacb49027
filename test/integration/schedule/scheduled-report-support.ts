/**
 * What the scheduled-report tests read back from the Slack stand-in: each tick's parent message (posted by the
 * worker, since a scheduled job has none), its final state and its thread, and the lab-backed runner a worker host
 * uses. Also the bits of lab surgery the tests do.
 */
import { until, type TestPipeline } from '../../support/slack-pipeline.ts';
import type { OperationDeps } from '../../../src/ops/deps.ts';
import { createOperationRunner, type OperationRunner } from '../../../src/ops/run-operation.ts';
import { auditedShell, type NodeCommandRecord } from '../../../src/audit/audited-shell.ts';
import { scheduleTitle } from '../../../src/schedule/report-schedules.ts';

export interface PostedReport {
  ts: string;
  /** The parent's last state (blocks as JSON), and every thread reply's blocks as JSON, joined. */
  parent: string;
  thread: string;
  replies: string[];
  done: boolean;
}

/**
 * Every report a schedule has posted so far, oldest first. A tick's parent is told apart by the job's title, which
 * the worker's first status update ("running") carries; the finished parent shows the report's own title.
 */
export function postedReports(p: TestPipeline, scheduleId: string, channel = 'C1'): PostedReport[] {
  const title = scheduleTitle(scheduleId);
  const ofSchedule = new Set(
    p.standIn.calls
      .filter(
        (c) =>
          c.method === 'chat.update' &&
          c.args.channel === channel &&
          JSON.stringify(c.args.blocks ?? '').includes(title),
      )
      .map((c) => String(c.args.ts)),
  );
  const all = [...p.standIn.messages.values()];
  return all
    .filter((m) => !m.thread_ts && m.channel === channel && ofSchedule.has(m.ts))
    .map((m) => {
      const replies = all.filter((r) => r.thread_ts === m.ts).map((r) => JSON.stringify(r.blocks));
      const parent = JSON.stringify(m.blocks);
      return { ts: m.ts, parent, replies, thread: replies.join('\n'), done: parent.includes('done in') };
    });
}

/** Finished reports only. */
export const doneReports = (p: TestPipeline, scheduleId: string, channel = 'C1') =>
  postedReports(p, scheduleId, channel).filter((r) => r.done);

/** The worker host's runner over the lab's real API server and sshd, every node command audited. */
export function labRunnerFor(deps: OperationDeps): (onCommand: (r: NodeCommandRecord) => void) => OperationRunner {
  return (onCommand) => createOperationRunner({ ...deps, shell: auditedShell(deps.shell, onCommand) });
}

/** The bot's answers to slash commands (response_url posts), in order. */
export const commandAnswers = (p: TestPipeline): string[] =>
  p.standIn.calls.filter((c) => c.method === 'response_url').map((c) => String(c.args.text));

/** No tick running or waiting to run: whatever was started has posted all it will. */
export async function queueIdle(p: TestPipeline): Promise<void> {
  await until(
    async () => (await p.queue.getActiveCount()) + (await p.queue.getWaitingCount()) === 0,
    20_000,
    'queue idle',
  );
}

/**
 * Removes a schedule and waits for the bot to say so and for its last tick to finish: a test that ends right after
 * sending the command would close Redis under the bot and the worker still using it.
 */
export async function removeSchedule(p: TestPipeline, id: string): Promise<void> {
  await p.send(`schedule remove ${id}`);
  await until(() => commandAnswers(p).some((a) => a.startsWith(`Removed schedule \`${id}\``)), 10_000, 'removed');
  await queueIdle(p);
}
