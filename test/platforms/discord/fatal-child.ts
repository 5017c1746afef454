/**
 * A bot process for the fatal-close test: connects to the fake Discord at DISCORD_API_URL
 * (token and application id from the environment too; support.ts needs vitest) with the
 * default fatal handling, says "connected" on stdout, then waits for Discord.
 */
import { createDiscord } from '../../../src/app/discord.js';
import { silentLog } from '../../../src/domain/log.js';
import type { DiscordService } from '../../../src/platforms/discord/bot.js';

// No open rounds anywhere; nothing else is called before the close.
const service = new Proxy({}, { get: () => async () => [] }) as DiscordService;
const discord = createDiscord(
  {
    token: process.env.DISCORD_TOKEN ?? '',
    applicationId: process.env.DISCORD_APPLICATION_ID ?? '',
    apiUrl: process.env.DISCORD_API_URL,
    guildId: undefined,
    moderatorRoles: [],
    shards: 'auto',
  },
  { log: silentLog },
);
await discord.start(service);
process.stdout.write('connected\n');
// Keeps the process alive until Discord ends it (the client's timers are unref'd).
setInterval(() => {}, 60_000);
