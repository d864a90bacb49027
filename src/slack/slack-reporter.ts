/**
 * The Slack implementation of the worker's chat port: Block Kit messages (slack-blocks.ts) posted and updated with
 * the Web API client, long sections and pcaps uploaded as files (files.uploadV2) into the job's thread.
 */
import type { WebClient } from '@slack/web-api';
import type { ChatReporter } from '../queue/chat-port.ts';
import { auditMessage } from './audit-message.ts';
import { escapeMrkdwn, mention, renderSlackThread, statusMessage, type SlackMessage } from './slack-blocks.ts';

async function post(slack: WebClient, channel: string, threadTs: string | undefined, message: SlackMessage): Promise<string> {
  const r = await slack.chat.postMessage({ channel, ...(threadTs ? { thread_ts: threadTs } : {}), text: message.text, blocks: message.blocks });
  return String(r.ts);
}

export function slackReporter(slack: WebClient): ChatReporter {
  return {
    postParent: (channel, view) => post(slack, channel, undefined, statusMessage(view.title, view.status, { user: view.askedBy })),
    async updateParent(channel, parentId, view) {
      await slack.chat.update({ channel, ts: parentId, ...statusMessage(view.title, view.status, { user: view.askedBy }) });
    },
    async postReport(channel, parentId, report, view, once) {
      const thread = renderSlackThread(report, view.status, view.askedBy);
      for (const [i, reply] of thread.replies.entries()) await once(`reply:${i}`, () => post(slack, channel, parentId, reply));
      for (const [i, file] of thread.files.entries()) {
        await once(`file:${i}`, async () => {
          await slack.filesUploadV2({ channel_id: channel, thread_ts: parentId, file: file.content, filename: file.filename, title: file.title });
          return file.filename;
        });
      }
      await slack.chat.update({ channel, ts: parentId, ...thread.parent });
    },
    async postNotice(channel, parentId, text, by, once) {
      const byText = by && mention(by) ? ` by ${mention(by)}` : '';
      await once('outcome:failed', () => post(slack, channel, parentId, { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:warning: ${escapeMrkdwn(text)}${byText}` } }] }));
    },
    async postAudit(channel, audit, once) {
      await once('audit', () => post(slack, channel, undefined, auditMessage(audit)));
    },
  };
}
