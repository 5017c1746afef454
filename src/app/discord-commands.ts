import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DiscordAPIError, HTTPError, REST, Routes } from 'discord.js';
import { inviteUrl } from '../platforms/discord/client.js';
import { consensusCommand } from '../platforms/discord/commands.js';
import { describeError } from '../platforms/discord/errors.js';
import { ConfigError, redactUrl } from './config.js';
import { type DiscordConfig, loadDiscordConfig } from './discord-config.js';

export interface Registration {
  scope: 'global' | 'guild';
  route: string;
  names: string[];
}

const USAGE =
  'usage: npm run discord:commands [-- --remove]   (DISCORD_GUILD_ID set: that server only; unset: globally)';

/**
 * How long one try of the registration waits for Discord, and how many times it is tried
 * again. discord.js's own defaults (15 s, 3 retries) left an admin a silent minute.
 */
export const REGISTER_TIMEOUT_MS = 15_000;
const REGISTER_RETRIES = 1;

/**
 * Registers `/consensus` (a bulk overwrite of the app's commands): for one guild when
 * DISCORD_GUILD_ID is set, which takes effect at once, or globally otherwise. `remove`
 * overwrites them with none: a server registered while trying the bot out keeps its copy
 * beside a later global one, and its members see `/consensus` twice until it is removed.
 */
export async function registerCommands(
  config: DiscordConfig,
  options: { remove?: boolean; timeoutMs?: number } = {},
): Promise<Registration> {
  const rest = new REST({
    ...(config.apiUrl && { api: config.apiUrl }),
    timeout: options.timeoutMs ?? REGISTER_TIMEOUT_MS,
    retries: REGISTER_RETRIES,
  }).setToken(config.token);
  const route = config.guildId
    ? Routes.applicationGuildCommands(config.applicationId, config.guildId)
    : Routes.applicationCommands(config.applicationId);
  const registered = await rest.put(route, {
    body: options.remove === true ? [] : [consensusCommand()],
  });
  const names = Array.isArray(registered)
    ? registered.flatMap((c: unknown) =>
        typeof c === 'object' && c !== null && 'name' in c && typeof c.name === 'string'
          ? [c.name]
          : [],
      )
    : [];
  return { scope: config.guildId ? 'guild' : 'global', route, names };
}

/**
 * What to tell the admin when Discord refuses the registration. Discord's own words
 * ("401: Unauthorized", "Missing Access") do not say which setting is wrong, and each of
 * these has one fix; the token is never part of the message.
 */
export function registrationProblem(
  error: unknown,
  config: DiscordConfig,
  timeoutMs = REGISTER_TIMEOUT_MS,
): string {
  if (error instanceof Error && error.name === 'AbortError') {
    const where = config.apiUrl ? `DISCORD_API_URL ${redactUrl(config.apiUrl)}` : 'Discord';
    return (
      `${where} did not answer within ${timeoutMs / 1000} s, ${REGISTER_RETRIES + 1} times: ` +
      `check this machine's connection to it${config.apiUrl ? ', or unset DISCORD_API_URL to use Discord’s own' : ''}, and run this again.`
    );
  }
  const status = error instanceof DiscordAPIError || error instanceof HTTPError ? error.status : 0;
  const code = error instanceof DiscordAPIError ? error.code : null;
  if (status === 401) {
    return (
      'Discord rejected DISCORD_TOKEN (401 Unauthorized): it was reset, or is not a bot token. ' +
      'Copy the current one from the Developer Portal (Bot > Reset Token), without "Bot ".'
    );
  }
  // 20012: "not authorized to perform this action on this application"; 10002: unknown application.
  if (code === 20012 || code === 10002) {
    return (
      `Discord refused DISCORD_APPLICATION_ID ${config.applicationId}: it is not the application of DISCORD_TOKEN's bot. ` +
      'Copy the Application ID from General Information of the same application as the token.'
    );
  }
  // 50001 "Missing Access" / 10004 "Unknown Guild" on a guild's commands: the app is not installed there.
  if (config.guildId && (code === 50001 || code === 10004)) {
    return (
      `Discord refused to register the command in server DISCORD_GUILD_ID ${config.guildId}: ` +
      'the bot is not in that server, or was invited without the applications.commands scope. ' +
      `Invite it with ${inviteUrl(config.applicationId)} and run this again, or unset DISCORD_GUILD_ID to register globally.`
    );
  }
  const detail = describeError(error);
  const where =
    detail.status === undefined
      ? ''
      : ` (HTTP ${detail.status}${detail.code === undefined ? '' : `, code ${detail.code}`})`;
  return `Registering the commands failed: ${detail.err}${where}`;
}

async function main(argv: readonly string[]): Promise<void> {
  let flags: { remove?: boolean; help?: boolean };
  try {
    flags = parseArgs({
      args: [...argv],
      options: { remove: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (error) {
    // An unknown word must not register anyway: it may have meant something else.
    console.error(`${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (flags.help === true) {
    console.log(USAGE);
    return;
  }
  const remove = flags.remove === true;
  let config: DiscordConfig | null;
  try {
    config = loadDiscordConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  if (!config) {
    console.error(
      'Set DISCORD_TOKEN and DISCORD_APPLICATION_ID (and DISCORD_GUILD_ID for one server) first; see "Connect to Discord" in the README.',
    );
    process.exit(2);
  }
  try {
    const result = await registerCommands(config, { remove });
    if (remove) {
      console.log(
        result.scope === 'guild'
          ? `Removed the bot's commands from guild ${config.guildId}; a global /consensus stays.`
          : "Removed the bot's global commands; a server's own registration stays.",
      );
      return;
    }
    console.log(
      result.scope === 'guild'
        ? `Registered /${result.names.join(', /')} for guild ${config.guildId}; it is usable now.`
        : `Registered /${result.names.join(', /')} globally; it can take a while to appear (reload Discord with Ctrl+R).`,
    );
  } catch (error) {
    console.error(registrationProblem(error, config));
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
