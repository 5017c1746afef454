import {
  Client,
  GatewayIntentBits,
  Partials,
  PermissionFlagsBits,
  PermissionsBitField,
} from 'discord.js';

/** MessageContent is privileged: it must also be switched on in the Developer Portal. */
export const INTENTS = [
  GatewayIntentBits.Guilds,
  GatewayIntentBits.GuildMessages,
  GatewayIntentBits.MessageContent,
  GatewayIntentBits.GuildMessageReactions,
] as const;

/**
 * Without these, discord.js drops events about messages it has not cached, so a
 * reaction on a statement posted before a restart would never count.
 */
export const PARTIALS = [Partials.Message, Partials.Channel, Partials.Reaction, Partials.User];

/** What the bot needs in a channel to run a round there. */
export const BOT_PERMISSIONS = [
  PermissionFlagsBits.ViewChannel,
  PermissionFlagsBits.SendMessages,
  PermissionFlagsBits.SendMessagesInThreads,
  PermissionFlagsBits.CreatePublicThreads,
  PermissionFlagsBits.EmbedLinks,
  PermissionFlagsBits.AttachFiles,
  PermissionFlagsBits.AddReactions,
  PermissionFlagsBits.ReadMessageHistory,
] as const;

/**
 * What a round already under way needs in its channel: to see it and its thread, post
 * and edit there, and put the poll's reactions on. Creating threads and attaching the
 * chart are for a start and for results, which do without the chart.
 */
export const ROUND_PERMISSIONS = [
  PermissionFlagsBits.ViewChannel,
  PermissionFlagsBits.SendMessagesInThreads,
  PermissionFlagsBits.EmbedLinks,
  PermissionFlagsBits.AddReactions,
  PermissionFlagsBits.ReadMessageHistory,
] as const;

export interface ClientOptions {
  /** REST base, e.g. a local fake; Discord's own when unset. `/v10` is appended. */
  apiUrl?: string | undefined;
  /**
   * The gateway shards to run: `auto`, every shard of the count Discord recommends at login
   * (GET /gateway/bot); or these ids out of `shardCount`. Unset: shard 0 of 1.
   */
  shards?: 'auto' | readonly number[];
  /** Shards in all processes together; without it discord.js takes the length of `shards`. */
  shardCount?: number;
}

export function createDiscordClient(options: ClientOptions = {}): Client {
  const { shards, shardCount } = options;
  return new Client({
    intents: [...INTENTS],
    partials: PARTIALS,
    // Members' text is quoted back in messages; no reply of the bot may ping anyone by default.
    allowedMentions: { parse: [] },
    ...(options.apiUrl !== undefined && { rest: { api: options.apiUrl } }),
    ...(shards !== undefined && { shards: shards === 'auto' ? 'auto' : [...shards] }),
    ...(shardCount !== undefined && { shardCount }),
  });
}

/** The OAuth2 URL a server admin opens to add the bot with exactly the permissions above. */
export function inviteUrl(applicationId: string): string {
  const permissions = new PermissionsBitField([...BOT_PERMISSIONS]).bitfield;
  const query = new URLSearchParams({
    client_id: applicationId,
    scope: 'bot applications.commands',
    permissions: permissions.toString(),
  });
  return `https://discord.com/oauth2/authorize?${query.toString()}`;
}
