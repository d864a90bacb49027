/**
 * Report → Slack messages (Block Kit), within Slack's limits: the parent message carries the title, the headline
 * and the findings; the thread carries each section as its own reply (route tables and netns dumps as monospace
 * blocks, tables aligned). Whatever does not fit goes up as a file. Pure.
 */
import { flattenFindings, sortFindings, type Finding, type Report, type ReportSection } from '../model/report.ts';
import { alignTable } from '../render/terminal.ts';

/** Slack: a section block's text is at most 3000 characters (Block Kit reference, "section"). */
export const SECTION_TEXT_LIMIT = 3000;
/** Slack: at most 50 blocks per message (chat.postMessage). */
export const BLOCKS_PER_MESSAGE = 50;
/** A section longer than this many blocks' worth goes up as a file instead of flooding the thread. */
export const MAX_BLOCKS_PER_SECTION = 6;
/** Findings shown on the parent message; the rest are in the thread. */
export const PARENT_FINDINGS = 8;

export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string } }
  | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
  | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  | { type: 'divider' }
  | { type: 'actions'; block_id: string; elements: SlackButton[] };

/** A Block Kit button; `value` comes back in the block_actions payload when someone clicks it. */
export interface SlackButton {
  type: 'button';
  action_id: string;
  text: { type: 'plain_text'; text: string };
  value: string;
  style?: 'primary' | 'danger';
}

/** The actions block of a job's parent message (the bot listens for these action ids). */
export const ACTIONS_BLOCK_ID = 'k8snet-actions';
/** Slack: an actions block holds at most 25 elements (Block Kit reference, "actions block"). */
export const ACTIONS_PER_BLOCK = 25;

export interface SlackMessage {
  /** Fallback text for notifications and screen readers. */
  text: string;
  blocks: SlackBlock[];
}

export interface SlackFile {
  filename: string;
  title: string;
  content: Buffer;
}

export interface SlackThread {
  parent: SlackMessage;
  replies: SlackMessage[];
  files: SlackFile[];
}

const EMOJI: Record<Finding['severity'], string> = {
  error: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
};

/** Slack mrkdwn needs &, < and > escaped (formatting reference). */
export function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

const section = (text: string): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });

/** Monospace text split into code blocks that each fit a section, on line boundaries. */
export function codeBlocks(text: string): SlackBlock[] {
  const budget = SECTION_TEXT_LIMIT - 8; // the ``` fences and newlines
  const blocks: SlackBlock[] = [];
  let chunk = '';
  for (const rawLine of escapeMrkdwn(text.replace(/\n+$/, '')).split('\n')) {
    const line = rawLine.length > budget ? `${rawLine.slice(0, budget - 1)}…` : rawLine;
    if (chunk.length + line.length + 1 > budget) {
      blocks.push(section(`\`\`\`${chunk}\`\`\``));
      chunk = '';
    }
    chunk = chunk ? `${chunk}\n${line}` : line;
  }
  if (chunk) blocks.push(section(`\`\`\`${chunk}\`\`\``));
  return blocks;
}

/** Evidence shown per finding line: its first line, this long at most (the rest is in the thread's sections). */
const EVIDENCE_CHARS = 300;

function findingLine(f: Finding, depth: number): string {
  const lead = depth > 0 ? `${'      '.repeat(depth - 1)}↳ ` : '';
  const text = `${lead}${EMOJI[f.severity]} ${escapeMrkdwn(f.message)}${f.evidence ? `\n      ${'      '.repeat(depth)}\`${escapeMrkdwn(f.evidence.split('\n')[0]!.slice(0, EVIDENCE_CHARS))}\`` : ''}`;
  // What follows from a finding is shown under it, in the same block.
  return [text, ...sortFindings(f.children ?? []).map((c) => findingLine(c, depth + 1))].join('\n');
}

export function findingLines(findings: readonly Finding[]): string[] {
  return sortFindings(findings).map((f) => findingLine(f, 0));
}

function sectionText(s: ReportSection): string {
  switch (s.kind) {
    case 'text':
    case 'preformatted':
      return s.text;
    case 'table':
      return s.rows.length === 0 ? '(none)' : alignTable(s.columns, s.rows).join('\n');
    case 'findings':
      return flattenFindings(sortFindings(s.findings))
        .map((f) => `${f.severity.toUpperCase()}: ${f.message}${f.evidence ? `\n  ${f.evidence}` : ''}`)
        .join('\n');
  }
}

function fileName(title: string): string {
  return `${
    title
      .toLowerCase()
      .replace(/[^a-z0-9.]+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 60) || 'section'
  }.txt`;
}

/** A user mention; only a well-formed Slack user ID becomes one (anything else would be text injected as mrkdwn). */
export function mention(user: string | undefined): string {
  return user !== undefined && /^[UW][A-Z0-9]{1,20}$/.test(user) ? `<@${user}>` : '';
}

export interface StatusOptions {
  detail?: { headline: string; findings: Finding[] };
  /** Who asked (a Slack user ID), shown as a mention after the status. */
  user?: string;
  /** Buttons under the message (follow-ups, Cancel). */
  buttons?: SlackButton[];
}

/** The parent message for a job in a given state (queued, running: step, done, failed). */
export function statusMessage(title: string, status: string, options: StatusOptions = {}): SlackMessage {
  const { detail } = options;
  const who = mention(options.user);
  const context = `${escapeMrkdwn(status)}${who ? ` — asked by ${who}` : ''}`;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: title.slice(0, 150) } },
    { type: 'context', elements: [{ type: 'mrkdwn', text: context }] },
  ];
  if (detail) {
    blocks.push(section(`*${escapeMrkdwn(detail.headline)}*`));
    const lines = findingLines(detail.findings.filter((f) => f.severity !== 'info')).slice(0, PARENT_FINDINGS);
    let text = '';
    for (const line of lines) {
      if (text.length + line.length + 1 > SECTION_TEXT_LIMIT) break;
      text = text ? `${text}\n${line}` : line;
    }
    if (text) blocks.push(section(text));
  }
  if (options.buttons && options.buttons.length > 0)
    blocks.push({ type: 'actions', block_id: ACTIONS_BLOCK_ID, elements: options.buttons.slice(0, ACTIONS_PER_BLOCK) });
  return { text: `${title}: ${detail?.headline ?? status}`, blocks };
}

export function renderSlackThread(
  report: Report,
  parentStatus = 'done',
  user?: string,
  buttons: SlackButton[] = [],
): SlackThread {
  const parent = statusMessage(report.title, parentStatus, {
    detail: { headline: report.headline, findings: report.findings },
    ...(user ? { user } : {}),
    buttons,
  });
  const replies: SlackMessage[] = [];
  const files: SlackFile[] = report.attachments.map((a) => ({ filename: a.filename, title: a.title, content: a.data }));
  if (report.findings.length > 0) {
    const blocks = [
      section('*Findings*'),
      ...findingLines(report.findings).map((l) => section(l.slice(0, SECTION_TEXT_LIMIT))),
    ].slice(0, BLOCKS_PER_MESSAGE);
    replies.push({ text: 'Findings', blocks });
  }
  for (const s of report.sections) {
    const body = sectionText(s);
    const blocks = s.kind === 'text' ? [section(escapeMrkdwn(body).slice(0, SECTION_TEXT_LIMIT))] : codeBlocks(body);
    if (blocks.length > MAX_BLOCKS_PER_SECTION) {
      files.push({ filename: fileName(s.title), title: s.title, content: Buffer.from(body) });
      replies.push({
        text: s.title,
        blocks: [
          section(`*${escapeMrkdwn(s.title)}*: ${body.split('\n').length} lines, attached as ${fileName(s.title)}`),
        ],
      });
    } else {
      replies.push({ text: s.title, blocks: [section(`*${escapeMrkdwn(s.title)}*`), ...blocks] });
    }
  }
  return { parent, replies, files };
}
