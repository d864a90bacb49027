/**
 * The Slack implementation of the worker's chat port: Block Kit messages (slack-blocks.ts) posted and updated with
 * the Web API client, long sections and pcaps uploaded as files (files.uploadV2) into the job's thread. The
 * buttons under a parent message are decided here, from the command the worker says ran (job-buttons.ts).
 */
import type { WebClient } from '@slack/web-api';
import type { ChatReporter, JobStatusView } from '../queue/chat-port.ts';
import { auditMessage } from './audit-message.ts';
import { jobButtons, type ButtonSettings } from './job-buttons.ts';
import { escapeMrkdwn, mention, renderSlackThread, statusMessage, type SlackMessage } from './slack-blocks.ts';

async function post(
  slack: WebClient,
  channel: string,
  threadTs: string | undefined,
  message: SlackMessage,
): Promise<string> {
  const r = await slack.chat.postMessage({
    channel,
    ...(threadTs ? { thread_ts: threadTs } : {}),
    text: message.text,
    blocks: message.blocks,
  });
  return String(r.ts);
}

/** Without button settings (or without a key in them) messages carry no buttons. */
export function slackReporter(
  slack: WebClient,
  buttons: ButtonSettings = { key: null, bounds: { defaultSeconds: 5, maxSeconds: 30 } },
): ChatReporter {
  const status = (view: JobStatusView) =>
    statusMessage(view.title, view.status, { user: view.askedBy, buttons: jobButtons(buttons, view) });
  return {
    postParent: (channel, view) => post(slack, channel, undefined, status(view)),
    async updateParent(channel, parentId, view) {
      await slack.chat.update({ channel, ts: parentId, ...status(view) });
    },
    async postReport(at, report, view, once) {
      const thread = renderSlackThread(report, view.status, view.askedBy, jobButtons(buttons, view));
      const threadTs = at.threadId ?? at.parentId;
      for (const [i, reply] of thread.replies.entries())
        await once(`reply:${i}`, () => post(slack, at.channel, threadTs, reply));
      for (const [i, file] of thread.files.entries()) {
        await once(`file:${i}`, async () => {
          await slack.filesUploadV2({
            channel_id: at.channel,
            thread_ts: threadTs,
            file: file.content,
            filename: file.filename,
            title: file.title,
          });
          return file.filename;
        });
      }
      await slack.chat.update({ channel: at.channel, ts: at.parentId, ...thread.parent });
    },
    async postNotice(at, text, by, once) {
      const byText = by && mention(by) ? ` by ${mention(by)}` : '';
      await once('outcome:failed', () =>
        post(slack, at.channel, at.threadId ?? at.parentId, {
          text,
          blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:warning: ${escapeMrkdwn(text)}${byText}` } }],
        }),
      );
    },
    async postFile(at, file, text, once) {
      await once(`file:${file.filename}`, async () => {
        await slack.filesUploadV2({
          channel_id: at.channel,
          thread_ts: at.threadId ?? at.parentId,
          file: file.content,
          filename: file.filename,
          title: file.title,
          initial_comment: text,
        });
        return file.filename;
      });
    },
    async postAudit(channel, audit, once) {
      await once('audit', () => post(slack, channel, undefined, auditMessage(audit)));
    },
  };
}
