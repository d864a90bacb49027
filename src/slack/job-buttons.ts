/**
 * Follow-ups (follow-ups.ts) as Block Kit buttons with sealed values (action-value.ts): what the reporter and the
 * bot put under a job's parent message. Without a key (no signing secret configured) there are no buttons.
 */
import type { CaptureBounds } from '../command/grammar.ts';
import { commandText } from '../command/command-text.ts';
import type { OperationCommand } from '../ops/run-operation.ts';
import { ACTION_VALUE_TTL_SECONDS, sealActionValue, type ActionKey } from './action-value.ts';
import { followUps, runningFollowUps, type FollowUp, type FollowUpId } from './follow-ups.ts';
import type { SlackButton } from './slack-blocks.ts';

/** Every button's action id starts with this; the bot listens for `^k8snet:`. */
export const ACTION_PREFIX = 'k8snet:';

export const actionId = (id: FollowUpId) => `${ACTION_PREFIX}${id}`;

export function followUpId(actionIdValue: string): FollowUpId | null {
  const ids: readonly FollowUpId[] = [
    'capture_again',
    'reverse',
    'without_capture',
    'with_capture',
    'capture_every_node',
    'policy',
    'bundle',
    'rerun',
    'cancel',
  ];
  const id = actionIdValue.slice(ACTION_PREFIX.length);
  return actionIdValue.startsWith(ACTION_PREFIX) && (ids as readonly string[]).includes(id) ? (id as FollowUpId) : null;
}

export interface ButtonSettings {
  key: ActionKey | null;
  bounds: CaptureBounds;
}

function toButtons(
  key: ActionKey,
  jobId: string,
  cluster: string | null,
  list: FollowUp[],
  now: number,
): SlackButton[] {
  const expiresAt = Math.floor(now / 1000) + ACTION_VALUE_TTL_SECONDS;
  return list.map((f) => ({
    type: 'button',
    action_id: actionId(f.id),
    text: { type: 'plain_text', text: f.label },
    value: sealActionValue(key, actionId(f.id), { jobId, text: commandText(f.command, cluster), expiresAt }),
    ...(f.id === 'cancel' ? { style: 'danger' as const } : {}),
  }));
}

/** A job's buttons in a phase: `active` (queued or running) → Cancel; `done` → the follow-ups; `ended` → Re-run. */
export function jobButtons(
  settings: ButtonSettings,
  job: { jobId: string; command: OperationCommand | null; phase: 'active' | 'done' | 'ended'; cluster?: string | null },
  now = Date.now(),
): SlackButton[] {
  if (!settings.key || !job.command) return [];
  const list =
    job.phase === 'active'
      ? runningFollowUps(job.command)
      : job.phase === 'done'
        ? followUps(job.command, settings.bounds)
        : followUps(job.command, settings.bounds).filter((f) => f.id === 'rerun');
  return toButtons(settings.key, job.jobId, job.cluster ?? null, list, now);
}
