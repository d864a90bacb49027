/**
 * One job's audit entry as a Slack message for the audit channel: who asked for what from which channel, how it
 * ended, and every command run on every node with its exit status. Pure.
 */
import {
  codeBlocks,
  escapeMrkdwn,
  mention,
  SECTION_TEXT_LIMIT,
  type SlackBlock,
  type SlackMessage,
} from './slack-blocks.ts';
import type { NodeCommandRecord } from '../audit/audited-shell.ts';
import type { JobAudit } from '../audit/job-audit.ts';

/** The audit channel gets a summary, not a flood: past this, the count of the rest. */
export const AUDIT_COMMANDS_SHOWN = 60;
/** Code blocks for the command list: with the head, far below Slack's 50 blocks, and a screenful in the channel. */
export const AUDIT_CODE_BLOCKS = 10;
/**
 * A failure's detail is an error message; past this it is cut before escaping (so no entity is cut in two), and
 * even escaped (&amp; is 5×) it leaves the head within a section's 3000 characters.
 */
const DETAIL_CHARS = 500;

function status(c: NodeCommandRecord): string {
  if (c.error) return `error: ${c.error}`;
  if (c.timedOut) return 'timed out';
  return `exit ${c.exitCode ?? '?'}`;
}

/** The first `shown` commands as monospace blocks, and a line counting the rest. */
function commandBlocks(commands: readonly NodeCommandRecord[], shown: number): SlackBlock[] {
  const lines = commands
    .slice(0, shown)
    .map((c) => `${c.node}  ${status(c).padEnd(8)}  ${(c.durationMs / 1000).toFixed(1).padStart(5)} s  ${c.command}`);
  if (commands.length > shown) lines.push(`… and ${commands.length - shown} more (k8snet audit shows all)`);
  return codeBlocks(lines.join('\n'));
}

export function auditMessage(audit: JobAudit): SlackMessage {
  const channel = /^[CGD][A-Z0-9]+$/.test(audit.channel) ? `<#${audit.channel}>` : escapeMrkdwn(audit.channel);
  const detail = audit.detail.length > DETAIL_CHARS ? `${audit.detail.slice(0, DETAIL_CHARS - 1)}…` : audit.detail;
  const head = `${mention(audit.user) || escapeMrkdwn(audit.user)} ran \`${escapeMrkdwn(audit.command)}\` in ${channel} (job ${escapeMrkdwn(audit.jobId)}): *${audit.result}*${detail ? ` — ${escapeMrkdwn(detail)}` : ''}`;
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: head.slice(0, SECTION_TEXT_LIMIT) } }];
  if (audit.commands.length === 0) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'no commands ran on any node' }] });
  } else {
    // Long lines (long node names, long capture filters) may not fit: show fewer, so the count of the rest stays.
    let shown = Math.min(audit.commands.length, AUDIT_COMMANDS_SHOWN);
    let code = commandBlocks(audit.commands, shown);
    while (code.length > AUDIT_CODE_BLOCKS && shown > 0) code = commandBlocks(audit.commands, --shown);
    blocks.push(...code);
  }
  return { text: `k8snet audit: ${audit.user} ran ${audit.command} (${audit.result})`, blocks };
}
