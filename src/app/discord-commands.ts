import { pathToFileURL } from 'node:url';
import { REST, Routes } from 'discord.js';
import { consensusCommand } from '../platforms/discord/commands.js';
import { describeError } from '../platforms/discord/errors.js';
import { ConfigError } from './config.js';
import { type DiscordConfig, loadDiscordConfig } from './discord-config.js';

export interface Registration {
  scope: 'global' | 'guild';
  route: string;
  names: string[];
}

/**
 * Registers `/consensus` (a bulk overwrite of the app's commands): for one guild when
 * DISCORD_GUILD_ID is set, which takes effect at once, or globally otherwise.
 */
export async function registerCommands(config: DiscordConfig): Promise<Registration> {
  const rest = new REST(config.apiUrl ? { api: config.apiUrl } : {}).setToken(config.token);
  const route = config.guildId
    ? Routes.applicationGuildCommands(config.applicationId, config.guildId)
    : Routes.applicationCommands(config.applicationId);
  const registered = await rest.put(route, { body: [consensusCommand()] });
  const names = Array.isArray(registered)
    ? registered.flatMap((c: unknown) =>
        typeof c === 'object' && c !== null && 'name' in c && typeof c.name === 'string'
          ? [c.name]
          : [],
      )
    : [];
  return { scope: config.guildId ? 'guild' : 'global', route, names };
}

async function main(): Promise<void> {
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
    const result = await registerCommands(config);
    console.log(
      result.scope === 'guild'
        ? `Registered /${result.names.join(', /')} for guild ${config.guildId}; it is usable now.`
        : `Registered /${result.names.join(', /')} globally; it can take a while to appear (reload Discord with Ctrl+R).`,
    );
  } catch (error) {
    console.error(`Registering the commands failed: ${describeError(error).err}`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
