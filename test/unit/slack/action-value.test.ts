import { describe, expect, it } from '@jest/globals';
import {
  BUTTON_VALUE_LIMIT,
  deriveActionKey,
  openActionValue,
  sealActionValue,
} from '../../../src/slack/action-value.ts';
import { jobButtons } from '../../../src/slack/job-buttons.ts';
import { statusMessage } from '../../../src/slack/slack-blocks.ts';

const key = deriveActionKey('test-signing-secret');
const now = 1_800_000_000;
const value = { jobId: 'j7', text: 'trace pod-src pod-dest --capture-seconds 10', expiresAt: now + 60 };

describe('sealed button values', () => {
  it('opens what it sealed, for the same action id', () => {
    expect(openActionValue(key, 'k8snet:rerun', sealActionValue(key, 'k8snet:rerun', value), now)).toEqual({
      ok: true,
      value,
    });
  });

  it('holds no secret: the key is derived, and neither it nor the signing secret is in the value', () => {
    const sealed = sealActionValue(key, 'k8snet:rerun', value);
    expect(sealed).not.toContain('test-signing-secret');
    expect(key.equals(Buffer.from('test-signing-secret'))).toBe(false);
    expect(sealed.length).toBeLessThan(BUTTON_VALUE_LIMIT);
  });

  it('refuses an altered command, job, expiry, another action id, another key, garbage, and an expired value', () => {
    const sealed = sealActionValue(key, 'k8snet:rerun', value);
    const parts = sealed.split('.');
    const altered = (i: number, v: string) => parts.map((p, j) => (j === i ? v : p)).join('.');
    const refusedAltered = { ok: false, reason: expect.stringContaining('altered') };
    expect(
      openActionValue(
        key,
        'k8snet:rerun',
        altered(3, Buffer.from('trace pod-src pod-dest --capture-seconds 30').toString('base64url')),
        now,
      ),
    ).toEqual(refusedAltered);
    expect(openActionValue(key, 'k8snet:rerun', altered(1, 'j8'), now)).toEqual(refusedAltered);
    expect(openActionValue(key, 'k8snet:rerun', altered(2, String(now + 10 ** 6)), now)).toEqual(refusedAltered);
    expect(openActionValue(key, 'k8snet:capture_again', sealed, now)).toEqual(refusedAltered);
    expect(openActionValue(deriveActionKey('other'), 'k8snet:rerun', sealed, now)).toEqual(refusedAltered);
    for (const junk of [undefined, '', 'x', '1.j7.1.2.3.4', 'a'.repeat(BUTTON_VALUE_LIMIT + 1)])
      expect(openActionValue(key, 'k8snet:rerun', junk, now)).toEqual(refusedAltered);
    expect(openActionValue(key, 'k8snet:rerun', sealed, now + 61)).toEqual({
      ok: false,
      reason: expect.stringContaining('expired'),
    });
  });
});

describe('buttons on a parent message', () => {
  const command = { op: 'pod', namespace: 'default', name: 'pod-src' } as const;
  it('puts the follow-ups in one actions block, with values the bot can open', () => {
    const buttons = jobButtons(
      { key, bounds: { defaultSeconds: 5, maxSeconds: 30 } },
      { jobId: 'j3', command, phase: 'done' },
      now * 1000,
    );
    const message = statusMessage('pod default/pod-src', 'done in 1.0 s', { user: 'U1', buttons });
    const actions = message.blocks.filter((b) => b.type === 'actions');
    expect(actions).toHaveLength(1);
    expect(buttons.map((b) => [b.action_id, b.text.text])).toEqual([
      ['k8snet:policy', 'Policy'],
      ['k8snet:bundle', 'Evidence bundle'],
      ['k8snet:rerun', 'Re-run'],
    ]);
    expect(openActionValue(key, 'k8snet:policy', buttons[0]!.value, now)).toEqual({
      ok: true,
      value: { jobId: 'j3', text: 'policy pod-src', expiresAt: now + 24 * 3600 },
    });
  });

  it('shows Cancel while active, Re-run once ended, and nothing without a key', () => {
    const settings = { key, bounds: { defaultSeconds: 5, maxSeconds: 30 } };
    expect(jobButtons(settings, { jobId: 'j3', command, phase: 'active' }).map((b) => [b.text.text, b.style])).toEqual([
      ['Cancel', 'danger'],
    ]);
    expect(jobButtons(settings, { jobId: 'j3', command, phase: 'ended' }).map((b) => b.text.text)).toEqual(['Re-run']);
    expect(jobButtons({ ...settings, key: null }, { jobId: 'j3', command, phase: 'done' })).toEqual([]);
    expect(statusMessage('t', 's', { buttons: [] }).blocks.some((b) => b.type === 'actions')).toBe(false);
  });
});
