import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CHANNEL_GONE_EVENTS } from '../../../src/platforms/slack/events.js';

const ROOT = join(import.meta.dirname, '../../..');
const ADAPTER = join(ROOT, 'src/platforms/slack');

/** The parts of a Slack app manifest the bot depends on. */
const ManifestSchema = z.object({
  features: z.object({
    bot_user: z.object({ display_name: z.string().min(1) }),
    slash_commands: z.array(
      z.object({ command: z.string(), description: z.string().min(1), should_escape: z.boolean() }),
    ),
  }),
  oauth_config: z.object({ scopes: z.object({ bot: z.array(z.string()) }) }),
  settings: z.object({
    event_subscriptions: z.object({ bot_events: z.array(z.string()) }),
    interactivity: z.object({ is_enabled: z.boolean() }),
    socket_mode_enabled: z.boolean(),
  }),
});

/**
 * The bot scopes each Web API method the adapter calls needs (docs.slack.dev, method pages).
 * conversations.info needs the read scope of the conversation's type: the adapter uses it to
 * refuse DMs and channels it is not in, so all four.
 */
const SCOPES_OF_METHOD: Record<string, readonly string[]> = {
  'auth.test': [],
  'chat.postMessage': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.update': ['chat:write'],
  // A second progress message, posted when a slot's lock was lost, is taken down.
  'chat.delete': ['chat:write'],
  'conversations.info': ['channels:read', 'groups:read', 'im:read', 'mpim:read'],
  // The direct message a workspace export is sent in, where only the moderator sees it.
  'conversations.open': ['im:write'],
  // Rereading a round's thread after the bot was down; rounds live in channels only.
  'conversations.replies': ['channels:history', 'groups:history'],
  'files.uploadV2': ['files:write'],
  'reactions.add': ['reactions:write'],
  'reactions.get': ['reactions:read'],
  'users.info': ['users:read'],
  'views.open': [],
};

/** Events the adapter listens to, and the scope Slack delivers each with. */
const SCOPES_OF_EVENT: Record<string, string> = {
  'message.channels': 'channels:history',
  'message.groups': 'groups:history',
  reaction_added: 'reactions:read',
  reaction_removed: 'reactions:read',
  // A round's channel archived, deleted or left: its rounds are cancelled at once.
  channel_archive: 'channels:read',
  channel_deleted: 'channels:read',
  channel_left: 'channels:read',
  group_archive: 'groups:read',
  group_deleted: 'groups:read',
  group_left: 'groups:read',
  member_left_channel: 'channels:read',
  // The bot invited back to a channel: its open rounds are reread.
  member_joined_channel: 'channels:read',
};

/** Every `client.<family>.<method>(` in the adapter's source. */
function methodsCalled(): string[] {
  const found = new Set<string>();
  for (const file of readdirSync(ADAPTER).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(join(ADAPTER, file), 'utf8');
    for (const m of source.matchAll(/\bclient\.(\w+)\.(\w+)\s*\(/g)) found.add(`${m[1]}.${m[2]}`);
  }
  return [...found].sort();
}

describe('manifest.json', () => {
  const manifest = ManifestSchema.parse(
    JSON.parse(readFileSync(join(ROOT, 'manifest.json'), 'utf8')),
  );
  const scopes = new Set(manifest.oauth_config.scopes.bot);

  it('has the slash command, the events, Socket Mode and interactivity', () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual(['/consensus']);
    // Unescaped: the adapter reads <@U…> mentions and entities itself (text.ts).
    expect(manifest.features.slash_commands[0]?.should_escape).toBe(false);
    expect([...manifest.settings.event_subscriptions.bot_events].sort()).toEqual(
      Object.keys(SCOPES_OF_EVENT).sort(),
    );
    // Every event the adapter listens for a channel going away is subscribed to.
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(
      expect.arrayContaining([...CHANNEL_GONE_EVENTS]),
    );
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    // The start form and the rating buttons are interactivity.
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
  });

  it('grants every scope the Web API methods the adapter calls and its events need, and no other', () => {
    // A method added to the adapter must be added here, with its scopes.
    expect(methodsCalled()).toEqual(Object.keys(SCOPES_OF_METHOD).sort());
    const needed = new Set([
      'commands',
      ...Object.values(SCOPES_OF_METHOD).flat(),
      ...Object.values(SCOPES_OF_EVENT),
    ]);
    expect([...scopes].sort()).toEqual([...needed].sort());
  });

  it('is what the README’s "Connect to Slack" section says it is', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Connect to Slack'),
      readme.indexOf('## Connect to Discord'),
    );
    const table = section.slice(section.indexOf('| scope'), section.indexOf('2. **Install it.**'));
    const listed = [...table.matchAll(/`([a-z]+(?::[a-z.]+)?)`/g)].map((m) => m[1]);
    expect([...new Set(listed)].sort()).toEqual([...scopes].sort());
    for (const event of manifest.settings.event_subscriptions.bot_events) {
      expect(section).toContain(`\`${event}\``);
    }
  });
});
