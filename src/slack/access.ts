/**
 * Who may run what from Slack: allow-lists of channels and of users or user groups (S…), and a stricter list for
 * commands that capture packets. User group members are looked up with usergroups.users.list and cached briefly.
 * The decision itself is pure (`decideAccess`); only group expansion does I/O.
 */
import type { AccessSettings } from '../config.ts';

export type AccessDecision = { ok: true } | { ok: false; reason: string };

/** Members of a user group; cached this long so a busy channel does not hit Slack's rate limits. */
const GROUP_CACHE_MS = 5 * 60 * 1000;

const isGroup = (id: string) => id.startsWith('S');

/** Pure: `listed` is whether the user is on each list after group expansion. */
export function decideAccess(
  settings: AccessSettings,
  channel: string,
  listed: { allowed: boolean; capture: boolean },
  captures: boolean,
): AccessDecision {
  const directMessage = channel.startsWith('D') && settings.allowDirectMessages === true;
  if (settings.allowedChannels.length > 0 && !settings.allowedChannels.includes(channel) && !directMessage)
    return {
      ok: false,
      reason: channel.startsWith('D')
        ? 'k8snet is not enabled in direct messages here (K8SNET_ALLOW_DIRECT_MESSAGES); use a channel it answers in.'
        : 'k8snet is not enabled in this channel.',
    };
  if (settings.allowedUsers.length > 0 && !listed.allowed)
    return { ok: false, reason: 'you are not on the list of users allowed to run k8snet.' };
  if (captures && !listed.capture)
    return {
      ok: false,
      reason: 'you may not capture packets; add `--no-capture` to run the command without a capture.',
    };
  return { ok: true };
}

export class AccessPolicy {
  private readonly settings: AccessSettings;
  private readonly groupMembers: (group: string) => Promise<string[]>;
  /** Promises, so concurrent commands share one lookup of a group; a failed lookup is not kept. */
  private readonly cache = new Map<string, { members: Promise<Set<string>>; until: number }>();

  constructor(settings: AccessSettings, groupMembers: (group: string) => Promise<string[]>) {
    this.settings = settings;
    this.groupMembers = groupMembers;
  }

  private async onList(list: readonly string[], user: string): Promise<boolean> {
    if (list.includes(user)) return true;
    for (const group of list.filter(isGroup)) {
      let entry = this.cache.get(group);
      if (!entry || entry.until < Date.now()) {
        const members = this.groupMembers(group).then((m) => new Set(m));
        entry = { members, until: Date.now() + GROUP_CACHE_MS };
        this.cache.set(group, entry);
        members.catch(() => this.cache.delete(group));
      }
      if ((await entry.members).has(user)) return true;
    }
    return false;
  }

  async check(user: string, channel: string, captures: boolean): Promise<AccessDecision> {
    // A refused channel needs no group lookups (usergroups.users.list is rate limited).
    const channelOnly = decideAccess(this.settings, channel, { allowed: true, capture: true }, false);
    if (!channelOnly.ok) return channelOnly;
    const listed = {
      allowed: this.settings.allowedUsers.length === 0 || (await this.onList(this.settings.allowedUsers, user)),
      capture: captures ? await this.onList(this.settings.captureUsers, user) : false,
    };
    return decideAccess(this.settings, channel, listed, captures);
  }
}
