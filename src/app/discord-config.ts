import { z } from 'zod';
import { ConfigError } from './config.js';

/** Empty strings count as unset: `DISCORD_GUILD_ID=` in a .env file means "no value". */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const snowflake = z.string().regex(/^\d{17,20}$/, 'must be a Discord id: 17 to 20 digits');

/** Discord settings; Discord is enabled when both the token and the application id are set. */
export const DiscordEnvSchema = z
  .object({
    DISCORD_TOKEN: optionalString.pipe(
      z
        .string()
        .refine((t) => !/^bot\s/i.test(t), 'give the token without the "Bot " prefix')
        .refine((t) => !/\s/.test(t), 'must not contain spaces')
        .optional(),
    ),
    DISCORD_APPLICATION_ID: optionalString.pipe(snowflake.optional()),
    DISCORD_API_URL: optionalString.pipe(
      z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    ),
    DISCORD_GUILD_ID: optionalString.pipe(snowflake.optional()),
    DISCORD_MODERATOR_ROLES: optionalString.transform((v) =>
      (v ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter(Boolean),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.DISCORD_TOKEN && !env.DISCORD_APPLICATION_ID) {
      ctx.addIssue({
        code: 'custom',
        path: ['DISCORD_APPLICATION_ID'],
        message: 'is required when DISCORD_TOKEN is set (Developer Portal > General Information)',
      });
    }
    if (env.DISCORD_APPLICATION_ID && !env.DISCORD_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: ['DISCORD_TOKEN'],
        message: 'is required when DISCORD_APPLICATION_ID is set (Developer Portal > Bot > Token)',
      });
    }
  });

export interface DiscordConfig {
  token: string;
  applicationId: string;
  /** REST base without `/v10`; undefined = Discord's own. */
  apiUrl: string | undefined;
  /** Register commands for this guild only (instant) instead of globally. */
  guildId: string | undefined;
  /** Role ids or names whose members are moderators. */
  moderatorRoles: string[];
}

/**
 * Reads the DISCORD_* variables: null when Discord is not configured, a ConfigError
 * naming the variable when a value is wrong. No message ever contains the token.
 */
export function loadDiscordConfig(env: NodeJS.ProcessEnv = process.env): DiscordConfig | null {
  const parsed = DiscordEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid Discord configuration:\n${lines.join('\n')}`);
  }
  const data = parsed.data;
  if (!data.DISCORD_TOKEN || !data.DISCORD_APPLICATION_ID) return null;
  return {
    token: data.DISCORD_TOKEN,
    applicationId: data.DISCORD_APPLICATION_ID,
    apiUrl: data.DISCORD_API_URL?.replace(/\/+$/, ''),
    guildId: data.DISCORD_GUILD_ID,
    moderatorRoles: data.DISCORD_MODERATOR_ROLES,
  };
}
