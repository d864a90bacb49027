/**
 * A button's value: the command a click runs (as `/k8snet` text, parsed again on click with the same grammar), the
 * job it belongs to and an expiry, under an HMAC tag. The key is derived (HKDF) from the app's signing secret, so
 * it is never the secret itself and both the bot (which checks clicks) and the worker (which draws the buttons)
 * derive the same one. An old, altered or foreign value is refused. Values hold no secrets: anyone in the channel
 * can read them in the message's JSON. Pure apart from the crypto.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** Buttons work for a day: as long as a job's evidence is kept (queue/bundle-store.ts); later, type the command. */
export const ACTION_VALUE_TTL_SECONDS = 24 * 3600;
/** Slack: a button's value is at most 2000 characters (Block Kit reference, "button element"). */
export const BUTTON_VALUE_LIMIT = 2000;
const VERSION = '1';
/** 128 bits of the tag, base64url: forging it is out of reach, and it keeps the value short. */
const TAG_CHARS = 22;

export type ActionKey = Buffer;

export function deriveActionKey(signingSecret: string): ActionKey {
  return Buffer.from(hkdfSync('sha256', signingSecret, 'k8snet', 'k8snet button values v1', 32));
}

export interface ActionValue {
  jobId: string;
  /** The command a click runs, as `/k8snet` text. */
  text: string;
  /** Unix seconds. */
  expiresAt: number;
}

export type OpenedValue = { ok: true; value: ActionValue } | { ok: false; reason: string };

function tag(key: ActionKey, action: string, v: ActionValue): string {
  return createHmac('sha256', key)
    .update([VERSION, action, v.jobId, String(v.expiresAt), v.text].join('\n'))
    .digest('base64url')
    .slice(0, TAG_CHARS);
}

/** `1.<job>.<expiry>.<text, base64url>.<tag>`: the tag also binds the button's action id. */
export function sealActionValue(key: ActionKey, action: string, v: ActionValue): string {
  if (/[.\n]/.test(v.jobId)) throw new Error(`job id ${JSON.stringify(v.jobId)} cannot go into a button value`);
  const sealed = [
    VERSION,
    v.jobId,
    String(v.expiresAt),
    Buffer.from(v.text).toString('base64url'),
    tag(key, action, v),
  ].join('.');
  if (sealed.length > BUTTON_VALUE_LIMIT)
    throw new Error(`button value of ${sealed.length} characters exceeds Slack's ${BUTTON_VALUE_LIMIT}`);
  return sealed;
}

export function openActionValue(
  key: ActionKey,
  action: string,
  sealed: unknown,
  nowSeconds = Math.floor(Date.now() / 1000),
): OpenedValue {
  const altered = {
    ok: false,
    reason: "this button's value was altered or does not come from this k8snet; type the command instead.",
  } as const;
  if (typeof sealed !== 'string' || sealed.length > BUTTON_VALUE_LIMIT) return altered;
  const parts = sealed.split('.');
  if (
    parts.length !== 5 ||
    parts[0] !== VERSION ||
    !/^\d{1,12}$/.test(parts[2]!) ||
    !/^[A-Za-z0-9_-]*$/.test(parts[3]!)
  )
    return altered;
  const value: ActionValue = {
    jobId: parts[1]!,
    expiresAt: Number(parts[2]),
    text: Buffer.from(parts[3]!, 'base64url').toString(),
  };
  const expected = Buffer.from(tag(key, action, value));
  const given = Buffer.from(parts[4]!);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return altered;
  if (value.expiresAt < nowSeconds)
    return { ok: false, reason: 'this button has expired (buttons work for a day); type the command instead.' };
  return { ok: true, value };
}
