/**
 * `/k8snet schedule add|list|remove` once the grammar has validated it: checks the allow-list for the channel the
 * reports go to, changes the schedules in Redis, and says what it did — privately to the person who asked, and for
 * add and remove also in the channels concerned, so everyone there knows who changed what. Slack I/O stays with
 * the caller (the bot): this returns the texts.
 */
import type { ScheduleCommand } from '../command/grammar.ts';
import { describeError, InvalidInputError } from '../errors.ts';
import { escapeMrkdwn, mention } from './slack-blocks.ts';
import type { AccessDecision } from './access.ts';
import { SCHEDULES_FILE_USER, type ReportSchedules, type ScheduleEntry } from '../schedule/report-schedules.ts';

export interface ScheduleCommandContext {
  schedules: ReportSchedules;
  /** Who typed the command, and where. */
  user: string;
  channel: string;
  minIntervalSeconds: number;
  /** The allow-list decision for this user in a channel (the one a schedule posts into), capturing or not. */
  authorize(channel: string, captures: boolean): Promise<AccessDecision>;
  /**
   * The cluster a schedule reports on: `asked` (--cluster) checked against the clusters file, else `channel`'s
   * default; null: the default cluster. Throws InvalidInputError for a cluster it does not know.
   */
  clusterFor?(asked: string | undefined, channel: string): string | null;
}

export interface ScheduleAnswer {
  /** 'invalid' and 'denied' mirror the bot's refusals; the rest are the action done. */
  result: 'added' | 'listed' | 'removed' | 'not_found' | 'invalid' | 'denied';
  /** The private answer to who asked. */
  text: string;
  /** In-channel notes (add and remove only). */
  notes: { channel: string; text: string }[];
  /** What the audit trail records as the command. */
  audit: string;
}

/** Slack formats the time in each reader's own zone; the fallback is UTC. */
function slackTime(ms: number | null): string {
  if (ms === null) return 'never';
  const fallback = `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `<!date^${Math.floor(ms / 1000)}^{date_short} {time_secs}|${fallback}>`;
}

const channelLink = (id: string) => `<#${id}>`;
const creator = (user: string) =>
  user === SCHEDULES_FILE_USER ? 'the schedules file' : mention(user) || escapeMrkdwn(user);

const sampleText = (s: { sampleSeconds?: number }) =>
  s.sampleSeconds ? ` with a ${s.sampleSeconds} s tunnel sample` : '';
const clusterText = (s: { cluster?: string }) => (s.cluster ? ` on cluster \`${s.cluster}\`` : '');

export function scheduleLine(s: ScheduleEntry): string {
  return `\`${s.id}\`  \`${s.cron}\` ${escapeMrkdwn(s.tz)}${clusterText(s)} → ${channelLink(s.channel)}${sampleText(s)}, by ${creator(s.createdBy)}, next ${slackTime(s.next)}`;
}

/** Notes go to the schedule's channel and to where the command was typed, once each. */
function notes(ctx: ScheduleCommandContext, target: string, text: string): ScheduleAnswer['notes'] {
  return [...new Set([target, ctx.channel])].map((channel) => ({ channel, text }));
}

export async function runScheduleCommand(
  command: ScheduleCommand,
  ctx: ScheduleCommandContext,
): Promise<ScheduleAnswer> {
  try {
    return await run(command, ctx);
  } catch (err) {
    if (!(err instanceof InvalidInputError)) throw err;
    return {
      result: 'invalid',
      text: `:no_entry: ${describeError(err)}`,
      notes: [],
      audit: `schedule ${command.action}`,
    };
  }
}

async function run(command: ScheduleCommand, ctx: ScheduleCommandContext): Promise<ScheduleAnswer> {
  const { schedules } = ctx;
  switch (command.action) {
    case 'list': {
      const all = await schedules.list();
      const text =
        all.length === 0
          ? 'No scheduled reports. Add one with `/k8snet schedule add "0 9 * * 1-5" report`.'
          : [`*Scheduled reports* (${all.length})`, ...all.map((s) => `• ${scheduleLine(s)}`)].join('\n');
      return { result: 'listed', text, notes: [], audit: 'schedule list' };
    }
    case 'add': {
      const target = command.channel ?? ctx.channel;
      if (target !== ctx.channel) {
        const verdict = await ctx.authorize(target, false);
        if (!verdict.ok)
          return {
            result: 'denied',
            text: `:no_entry: Not allowed to post reports into ${channelLink(target)}: ${verdict.reason}`,
            notes: [],
            audit: `schedule add → ${target}`,
          };
      }
      // A tunnel sample captures packets: it needs the capture list.
      if (command.sampleSeconds && !(await ctx.authorize(target, true)).ok) {
        return {
          result: 'denied',
          text: ':no_entry: Not allowed: `--sample` captures packets and you are not on the list of users who may; leave it out for a report without a sample.',
          notes: [],
          audit: `schedule add --sample → ${target}`,
        };
      }
      const cluster = ctx.clusterFor ? ctx.clusterFor(command.cluster, target) : null;
      const added = await schedules.add(
        {
          id: command.id,
          cron: command.cron,
          tz: command.tz,
          channel: target,
          ...(command.sampleSeconds ? { sampleSeconds: command.sampleSeconds } : {}),
          ...(cluster ? { cluster } : {}),
        },
        ctx.user,
        { minIntervalSeconds: ctx.minIntervalSeconds },
      );
      const what = `\`${added.id}\`: a network health report${clusterText(added)}${sampleText(added)} \`${added.cron}\` (${escapeMrkdwn(added.tz)}) into ${channelLink(target)}`;
      return {
        result: 'added',
        text: `:calendar: Scheduled ${what}; next at ${slackTime(added.next)}. \`/k8snet schedule remove ${added.id}\` stops it.`,
        notes: notes(ctx, target, `:calendar: ${mention(ctx.user)} scheduled ${what}.`),
        audit: `schedule add ${added.id} "${added.cron}" ${added.tz} ${target}${added.sampleSeconds ? ` --sample ${added.sampleSeconds}` : ''}${added.cluster ? ` --cluster ${added.cluster}` : ''}`,
      };
    }
    case 'remove': {
      const existing = await schedules.get(command.id);
      if (!existing)
        return {
          result: 'not_found',
          text: `No schedule \`${command.id}\`; \`/k8snet schedule list\` shows them.`,
          notes: [],
          audit: `schedule remove ${command.id}`,
        };
      if (existing.channel !== ctx.channel) {
        const verdict = await ctx.authorize(existing.channel, false);
        if (!verdict.ok)
          return {
            result: 'denied',
            text: `:no_entry: Not allowed to change reports posted into ${channelLink(existing.channel)}: ${verdict.reason}`,
            notes: [],
            audit: `schedule remove ${command.id}`,
          };
      }
      if (!(await schedules.remove(command.id)))
        return {
          result: 'not_found',
          text: `No schedule \`${command.id}\` (it was just removed).`,
          notes: [],
          audit: `schedule remove ${command.id}`,
        };
      const again =
        existing.createdBy === SCHEDULES_FILE_USER
          ? ' It comes from the schedules file, so it comes back when the bot restarts unless it is taken out of the file.'
          : '';
      return {
        result: 'removed',
        text: `Removed schedule \`${existing.id}\` (\`${existing.cron}\`${clusterText(existing)} into ${channelLink(existing.channel)}).${again}`,
        notes: notes(
          ctx,
          existing.channel,
          `:calendar: ${mention(ctx.user)} removed the scheduled report \`${existing.id}\` (\`${existing.cron}\` into ${channelLink(existing.channel)}).`,
        ),
        audit: `schedule remove ${existing.id}`,
      };
    }
  }
}
