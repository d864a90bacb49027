import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { read, sources } from './deploy-files.ts';
import { OPERATIONS } from '../../../src/command/grammar.ts';

interface SlackAppManifest {
  features: {
    bot_user: { display_name: string };
    slash_commands: { command: string; url?: string; should_escape: boolean; usage_hint: string }[];
  };
  oauth_config: { scopes: { bot: string[]; user?: string[] } };
  settings: {
    socket_mode_enabled: boolean;
    event_subscriptions?: unknown;
    interactivity?: { is_enabled: boolean; request_url?: string };
  };
}

const manifest = parse(read('slack-app-manifest.yaml')) as SlackAppManifest;

/**
 * The bot scope each Web API method the code calls needs (Slack's method reference, "Required scopes").
 * auth.test needs none. A method missing here fails the test below: add it with its scope, and the scope to
 * slack-app-manifest.yaml.
 */
const METHOD_SCOPES: Record<string, string | null> = {
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  // filesUploadV2 = files.getUploadURLExternal + an upload + files.completeUploadExternal.
  filesUploadV2: 'files:write',
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
  'usergroups.users.list': 'usergroups:read',
  'auth.test': null,
};

/** Web API calls on a Slack client (`client.chat.update(…)`, `slack.filesUploadV2(…)`), with where they are. */
function webApiCalls(): Map<string, string[]> {
  const calls = new Map<string, string[]>();
  // The stand-in serves the Web API rather than calling it.
  for (const [file, text] of sources('src').filter(([f]) => f !== 'src/slack/stand-in.ts')) {
    for (const m of text.matchAll(/\b(?:client|slack|web)\.((?:[a-z]+\.)+[a-zA-Z]+|filesUploadV2)\(/g))
      calls.set(m[1]!, [...(calls.get(m[1]!) ?? []), file]);
  }
  return calls;
}

function slashCommands(): string[] {
  return [
    ...new Set(
      sources('src').flatMap(([, text]) => [...text.matchAll(/\bapp\.command\('([^']+)'/g)].map((m) => m[1]!)),
    ),
  ].sort();
}

describe('the Slack app manifest', () => {
  it('finds the Web API calls the bot and worker make', () => {
    const calls = webApiCalls();
    expect([...calls.keys()]).toEqual(
      expect.arrayContaining(['chat.postMessage', 'chat.update', 'filesUploadV2', 'usergroups.users.list']),
    );
  });

  it('asks for exactly the bot scopes those calls and the slash command need', () => {
    const needed = new Set<string>(['commands']);
    for (const [method, files] of webApiCalls()) {
      expect([method, files, method in METHOD_SCOPES]).toEqual([method, files, true]);
      const scope = METHOD_SCOPES[method];
      if (scope) needed.add(scope);
    }
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...needed].sort());
    expect(manifest.oauth_config.scopes.bot).toEqual(['chat:write', 'commands', 'files:write', 'usergroups:read']);
    // Posting only where invited (README): no chat:write.public, and no user token at all.
    expect(manifest.oauth_config.scopes.bot).not.toContain('chat:write.public');
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
  });

  it("registers the slash command the bot listens for, escaped, at the receiver's path", () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual(slashCommands());
    expect(slashCommands()).toEqual(['/k8snet']);
    const [command] = manifest.features.slash_commands;
    expect(command!.should_escape).toBe(true);
    expect(new URL(command!.url!).pathname).toBe('/slack/events');
    expect(read('src/slack/bot.ts')).toContain("endpoints: '/slack/events'");
    // Every verb of the grammar, so a new operation cannot be left out of Slack's hint.
    for (const verb of [...OPERATIONS, 'cancel', 'schedule', 'help'])
      expect(command!.usage_hint).toContain(`${verb} `.trim());
  });

  it('starts with the HTTP receiver, documents Socket Mode, and subscribes to nothing it does not handle', () => {
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(read('slack-app-manifest.yaml')).toMatch(/socket_mode_enabled: true.*\n.*connections:write/);
    expect(manifest.settings.event_subscriptions).toBeUndefined();
  });

  it("sends button clicks to the receiver's path, where the bot listens for its action ids", () => {
    expect(manifest.settings.interactivity?.is_enabled).toBe(true);
    expect(new URL(manifest.settings.interactivity!.request_url!).pathname).toBe('/slack/events');
    // Whitespace folded: the formatter may break the call over lines.
    expect(read('src/slack/bot.ts').replace(/\s+/g, ' ')).toMatch(
      /app\.action<bolt\.BlockAction>\( ?\{ type: 'block_actions', action_id: new RegExp\(`\^\$\{ACTION_PREFIX\}`\) \}/,
    );
  });
});
