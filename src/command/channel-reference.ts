/**
 * A channel named in chat text, as Slack escapes it in a slash command: <#C0123ABC|name> or <#C0123ABC> (escaping
 * on), or a bare channel ID. Pure; part of the grammar of chat text like tokenize()'s smart quotes.
 */
import { InvalidInputError } from '../errors.ts';
import { validateChannelId } from '../schedule/schedule-spec.ts';

const ESCAPED_CHANNEL = /^<#(?<id>[CG][A-Z0-9]{1,20})(?:\|(?<name>[^<>|]{0,80}))?>$/;
const shown = (value: unknown) => JSON.stringify(String(value).slice(0, 40));

/** `#channel` in Slack text: <#C0123ABC|name> or <#C0123ABC> (escaping on), or a channel ID; a bare #name is refused. */
export function parseChannelReference(token: string, field = '#channel'): string {
  const m = ESCAPED_CHANNEL.exec(token);
  if (m?.groups) return m.groups.id!;
  if (token.startsWith('#')) {
    throw new InvalidInputError(
      field,
      `${shown(token)} arrived as plain text, so k8snet cannot tell which channel it is; pick the channel from Slack's #-autocomplete so it becomes a link, or leave it out to use this channel`,
    );
  }
  return validateChannelId(token, field);
}
