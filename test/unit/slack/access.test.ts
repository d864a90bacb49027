import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import type { AccessSettings } from '../../../src/config.ts';
import { AccessPolicy, decideAccess } from '../../../src/slack/access.ts';

const open: AccessSettings = { allowedChannels: [], allowedUsers: [], captureUsers: [], auditChannel: undefined };
const NO_CAPTURE_HINT = 'you may not capture packets; add `--no-capture` to run the command without a capture.';

describe('decideAccess', () => {
  it('lets anyone run a command without a capture when no list is set', () => {
    expect(decideAccess(open, 'C0NETOPS', { allowed: true, capture: false }, false)).toEqual({ ok: true });
  });

  it('refuses captures unless the user is on the capture list, and says how to run without one', () => {
    expect(decideAccess(open, 'C0NETOPS', { allowed: true, capture: false }, true)).toEqual({
      ok: false,
      reason: NO_CAPTURE_HINT,
    });
    expect(
      decideAccess({ ...open, captureUsers: ['U0SRE'] }, 'C0NETOPS', { allowed: true, capture: true }, true),
    ).toEqual({ ok: true });
  });

  it('refuses a channel that is not on the channel list, before looking at the user', () => {
    const settings = { ...open, allowedChannels: ['C0NETOPS', 'G0PRIVATE'], allowedUsers: ['U0SRE'] };
    expect(decideAccess(settings, 'C0RANDOM', { allowed: false, capture: false }, false)).toEqual({
      ok: false,
      reason: 'k8snet is not enabled in this channel.',
    });
    expect(decideAccess(settings, 'G0PRIVATE', { allowed: true, capture: false }, false)).toEqual({ ok: true });
  });

  it('refuses a user who is not on the user list', () => {
    expect(
      decideAccess({ ...open, allowedUsers: ['U0SRE'] }, 'C0NETOPS', { allowed: false, capture: false }, false),
    ).toEqual({ ok: false, reason: 'you are not on the list of users allowed to run k8snet.' });
  });
});

describe('AccessPolicy', () => {
  /** A usergroups.users.list stand-in that counts its calls. */
  function groups(members: Record<string, string[]>) {
    const calls: string[] = [];
    const lookup = async (group: string) => {
      calls.push(group);
      if (!(group in members)) throw new Error('no_such_subteam');
      return members[group]!;
    };
    return { calls, lookup };
  }

  let now = Date.parse('2025-03-01T09:00:00Z');
  beforeEach(() => {
    now = Date.parse('2025-03-01T09:00:00Z');
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => {
    jest.restoreAllMocks();
  });

  it('asks Slack nothing when no user list is set and no capture is asked for', async () => {
    const g = groups({});
    expect(await new AccessPolicy(open, g.lookup).check('U0ANYONE', 'C0NETOPS', false)).toEqual({ ok: true });
    expect(g.calls).toEqual([]);
  });

  it('allows users listed by ID without a group lookup', async () => {
    const g = groups({ S0NETENG: ['U0BOB'] });
    const policy = new AccessPolicy({ ...open, allowedUsers: ['U0ALICE', 'S0NETENG'] }, g.lookup);
    expect(await policy.check('U0ALICE', 'C0NETOPS', false)).toEqual({ ok: true });
    expect(g.calls).toEqual([]);
  });

  it('expands user groups (S…) into their members', async () => {
    const g = groups({ S0NETENG: ['U0BOB', 'W0ENTERPRISE'], S0ONCALL: ['U0CAROL'] });
    const policy = new AccessPolicy({ ...open, allowedUsers: ['U0ALICE', 'S0NETENG', 'S0ONCALL'] }, g.lookup);
    expect(await policy.check('W0ENTERPRISE', 'C0NETOPS', false)).toEqual({ ok: true });
    expect(await policy.check('U0CAROL', 'C0NETOPS', false)).toEqual({ ok: true });
    expect(await policy.check('U0MALLORY', 'C0NETOPS', false)).toEqual({
      ok: false,
      reason: 'you are not on the list of users allowed to run k8snet.',
    });
  });

  it('caches a group for five minutes, then asks again (a member who left loses access)', async () => {
    const members: Record<string, string[]> = { S0NETENG: ['U0BOB'] };
    const g = groups(members);
    const policy = new AccessPolicy({ ...open, allowedUsers: ['S0NETENG'] }, g.lookup);
    expect((await policy.check('U0BOB', 'C0NETOPS', false)).ok).toBe(true);
    members.S0NETENG = [];
    now += 4 * 60_000;
    expect((await policy.check('U0BOB', 'C0NETOPS', false)).ok).toBe(true);
    expect((await policy.check('U0MALLORY', 'C0NETOPS', false)).ok).toBe(false);
    expect(g.calls).toEqual(['S0NETENG']);
    now += 2 * 60_000;
    expect((await policy.check('U0BOB', 'C0NETOPS', false)).ok).toBe(false);
    expect(g.calls).toEqual(['S0NETENG', 'S0NETENG']);
  });

  it('checks captures against the capture list, groups included, and only when the command captures', async () => {
    const g = groups({ S0SRE: ['U0CAROL'], S0NETENG: ['U0BOB', 'U0CAROL'] });
    const policy = new AccessPolicy(
      { ...open, allowedUsers: ['S0NETENG'], captureUsers: ['U0DAVE', 'S0SRE'] },
      g.lookup,
    );
    expect(await policy.check('U0BOB', 'C0NETOPS', false)).toEqual({ ok: true });
    expect(g.calls).toEqual(['S0NETENG']);
    expect(await policy.check('U0BOB', 'C0NETOPS', true)).toEqual({ ok: false, reason: NO_CAPTURE_HINT });
    expect(await policy.check('U0CAROL', 'C0NETOPS', true)).toEqual({ ok: true });
    expect(g.calls).toEqual(['S0NETENG', 'S0SRE']);
  });

  it('lets nobody capture from Slack when the capture list is empty', async () => {
    const policy = new AccessPolicy(open, groups({}).lookup);
    expect(await policy.check('U0ALICE', 'C0NETOPS', true)).toEqual({ ok: false, reason: NO_CAPTURE_HINT });
  });

  it('passes a failed group lookup on to the caller instead of allowing, and does not keep the failure', async () => {
    const g = groups({});
    const policy = new AccessPolicy({ ...open, allowedUsers: ['S0GONE'] }, g.lookup);
    await expect(policy.check('U0ALICE', 'C0NETOPS', false)).rejects.toThrow('no_such_subteam');
    await expect(policy.check('U0ALICE', 'C0NETOPS', false)).rejects.toThrow('no_such_subteam');
    expect(g.calls).toEqual(['S0GONE', 'S0GONE']);
  });

  it('looks up no group for a refused channel, and shares one lookup between commands arriving together', async () => {
    const g = groups({ S0NETENG: ['U0BOB'] });
    const policy = new AccessPolicy({ ...open, allowedChannels: ['C0NETOPS'], allowedUsers: ['S0NETENG'] }, g.lookup);
    expect(await policy.check('U0BOB', 'C0RANDOM', false)).toEqual({
      ok: false,
      reason: 'k8snet is not enabled in this channel.',
    });
    expect(g.calls).toEqual([]);
    const answers = await Promise.all([
      policy.check('U0BOB', 'C0NETOPS', false),
      policy.check('U0EVE', 'C0NETOPS', false),
      policy.check('U0BOB', 'C0NETOPS', false),
    ]);
    expect(answers.map((a) => a.ok)).toEqual([true, false, true]);
    expect(g.calls).toEqual(['S0NETENG']);
  });
});

describe('direct messages with the bot', () => {
  const channels = { allowedChannels: ['C0NETOPS'], allowedUsers: ['U1'], captureUsers: [], auditChannel: undefined };
  it('pass the channel list only when K8SNET_ALLOW_DIRECT_MESSAGES says so; the user and capture lists still apply', () => {
    expect(decideAccess(channels, 'D0DM', { allowed: true, capture: false }, false)).toEqual({
      ok: false,
      reason: expect.stringContaining('not enabled in direct messages'),
    });
    expect(
      decideAccess({ ...channels, allowDirectMessages: true }, 'D0DM', { allowed: true, capture: false }, false),
    ).toEqual({ ok: true });
    expect(
      decideAccess({ ...channels, allowDirectMessages: true }, 'D0DM', { allowed: false, capture: false }, false),
    ).toMatchObject({ ok: false });
    expect(
      decideAccess({ ...channels, allowDirectMessages: true }, 'D0DM', { allowed: true, capture: false }, true),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('capture') });
    // Only DMs: another channel stays refused.
    expect(
      decideAccess({ ...channels, allowDirectMessages: true }, 'C0OTHER', { allowed: true, capture: false }, false),
    ).toMatchObject({ ok: false });
  });
});
