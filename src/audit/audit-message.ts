/**
 * One job's audit entry as a Slack message for the audit channel: who asked for what from which channel, how it
 * ended, and every command run on every node with its exit status. Pure.
 */
import { codeBlocks, escapeMrkdwn, mention, type SlackBlock, type SlackMessage } from '../render/slack-blocks.ts';
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

/** The audit channel gets a summary, not a flood: past this, the count of the rest. */
export const AUDIT_COMMANDS_SHOWN = 60;

function status(c: NodeCommandRecord): string {
  if (c.error) return `error: ${c.error}`;
  if (c.timedOut) return 'timed out';
  return `exit ${c.exitCode ?? '?'}`;
}

export function auditMessage(audit: JobAudit): SlackMessage {
  const channel = /^[CGD][A-Z0-9]+$/.test(audit.channel) ? `<#${audit.channel}>` : escapeMrkdwn(audit.channel);
  const head = `${mention(audit.user) || escapeMrkdwn(audit.user)} ran \`${escapeMrkdwn(audit.command)}\` in ${channel} (job ${escapeMrkdwn(audit.jobId)}): *${audit.result}*${audit.detail ? ` — ${escapeMrkdwn(audit.detail)}` : ''}`;
  const shown = audit.commands.slice(0, AUDIT_COMMANDS_SHOWN);
  const lines = shown.map((c) => `${c.node}  ${status(c).padEnd(8)}  ${(c.durationMs / 1000).toFixed(1).padStart(5)} s  ${c.command}`);
  if (audit.commands.length > shown.length) lines.push(`… and ${audit.commands.length - shown.length} more (k8snet audit shows all)`);
  const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: head.slice(0, 3000) } }];
  if (lines.length > 0) blocks.push(...codeBlocks(lines.join('\n')).slice(0, 10));
  else blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: 'no commands ran on any node' }] });
  return { text: `k8snet audit: ${audit.user} ran ${audit.command} (${audit.result})`, blocks };
}
