/**
 * A Slack thread as a person reads it, in a terminal: the parent message, then each reply, then the files — for
 * `k8snet demo`, which shows what the bot posted to the Slack stand-in. Renders the Block Kit subset we post
 * (header, context, section with mrkdwn and code fences). Pure.
 */
export interface TranscriptMessage {
  text?: string;
  blocks?: unknown;
}

export interface TranscriptFile {
  filename: string;
  title?: string;
  bytes: number;
}

const EMOJI: Record<string, string> = {
  ':red_circle:': '✖',
  ':large_orange_circle:': '▲',
  ':large_blue_circle:': '•',
  ':warning:': '⚠',
  ':no_entry:': '⛔',
};

/** mrkdwn → plain text: mentions and channel links readable, entities decoded, emoji names as symbols. */
export function plainMrkdwn(text: string): string {
  return text
    .replace(/<@([A-Z0-9]+)>/g, '@$1')
    .replace(/<#([A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `#${name ?? id}`)
    .replace(/:[a-z_]+:/g, (e) => EMOJI[e] ?? e)
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&amp;', '&');
}

function sectionLines(text: string): string[] {
  const lines: string[] = [];
  // Code fences become indented monospace; the rest is prose with *bold* markers dropped.
  const parts = text.split('```');
  parts.forEach((part, i) => {
    if (i % 2 === 1)
      lines.push(
        ...plainMrkdwn(part)
          .split('\n')
          .map((l) => `    ${l}`),
      );
    else if (part.trim())
      lines.push(
        ...plainMrkdwn(part.replace(/\*([^*\n]+)\*/g, '$1'))
          .split('\n')
          .filter((l) => l.trim() !== ''),
      );
  });
  return lines;
}

export function messageLines(message: TranscriptMessage): string[] {
  const blocks = Array.isArray(message.blocks) ? (message.blocks as Record<string, unknown>[]) : [];
  if (blocks.length === 0) return message.text ? sectionLines(message.text) : [];
  return blocks.flatMap((b): string[] => {
    switch (b.type) {
      case 'header':
        return [`== ${(b.text as { text: string }).text} ==`];
      case 'context':
        return [`   ${(b.elements as { text: string }[]).map((e) => plainMrkdwn(e.text)).join('  ')}`];
      case 'section':
        return sectionLines((b.text as { text: string }).text);
      case 'divider':
        return ['---'];
      case 'actions':
        // Buttons as Slack draws them under the message.
        return [
          `   ${((b.elements ?? []) as { text?: { text?: string } }[]).map((e) => `[ ${e.text?.text ?? '?'} ]`).join(' ')}`,
        ];
      default:
        return [];
    }
  });
}

export function renderTranscript(
  parent: TranscriptMessage,
  replies: readonly TranscriptMessage[],
  files: readonly TranscriptFile[],
): string {
  const out = [...messageLines(parent), ''];
  replies.forEach((r, i) => {
    out.push(`  ┌ reply ${i + 1}`);
    out.push(...messageLines(r).map((l) => `  │ ${l}`));
    out.push('  └', '');
  });
  for (const f of files)
    out.push(`  📎 ${f.filename}${f.title && f.title !== f.filename ? ` — ${f.title}` : ''} (${f.bytes} bytes)`);
  return `${out.join('\n').trimEnd()}\n`;
}
