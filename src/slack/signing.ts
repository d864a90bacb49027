/**
 * Slack's request signing (v0): HMAC-SHA256 over `v0:<timestamp>:<body>` with the app's signing secret, sent as
 * X-Slack-Signature with X-Slack-Request-Timestamp. Bolt verifies it on the way in; tests and `k8snet demo` sign
 * slash commands exactly this way on the way out.
 */
import { createHmac } from 'node:crypto';

export function slackSignature(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SlashCommandFields {
  command: string;
  text: string;
  user_id: string;
  user_name?: string;
  channel_id: string;
  channel_name?: string;
  team_id: string;
  response_url: string;
  trigger_id?: string;
}

/** A slash command as Slack posts it: form-encoded, signed, timestamped. */
export function signedSlashCommand(
  signingSecret: string,
  fields: SlashCommandFields,
  now = Math.floor(Date.now() / 1000),
): { body: string; headers: Record<string, string> } {
  const body = new URLSearchParams({
    token: 'deprecated-verification-token',
    trigger_id: `${now}.1.${Math.random().toString(16).slice(2)}`,
    ...fields,
  } as Record<string, string>).toString();
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(now),
      'x-slack-signature': slackSignature(signingSecret, now, body),
    },
  };
}

/**
 * An interactive payload (a button click's `block_actions`) as Slack posts it to the app's request URL: the JSON
 * form-encoded as one `payload` field, signed and timestamped like a slash command.
 */
export function signedInteraction(
  signingSecret: string,
  payload: object,
  now = Math.floor(Date.now() / 1000),
): { body: string; headers: Record<string, string> } {
  const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(now),
      'x-slack-signature': slackSignature(signingSecret, now, body),
    },
  };
}
