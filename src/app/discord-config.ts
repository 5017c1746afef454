import { z } from 'zod';
import { ConfigError } from './config.js';

/** Empty strings count as unset: `DISCORD_GUILD_ID=` in a .env file means "no value". */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const snowflake = z.string().regex(/^\d{17,20}$/, 'must be a Discord id: 17 to 20 digits');

/** Unset, empty or `auto`: as many shards as Discord recommends; a number: that many in all. */
const shardTotal = optionalString.pipe(
  z
    .string()
    .refine(
      (v) => /^auto$/i.test(v) || (/^[1-9]\d*$/.test(v) && Number.isSafeInteger(Number(v))),
      'must be auto or a whole number of shards, 1 or more',
    )
    .transform((v) => (/^auto$/i.test(v) ? 'auto' : Number(v)))
    .optional()
    .transform((v) => v ?? 'auto'),
);

const shardIds = optionalString.pipe(
  z
    .string()
    .regex(/^\d+(\s*,\s*\d+)*$/, 'must be shard ids, whole numbers separated by commas (e.g. 0,1)')
    .transform((v) => v.split(',').map(Number))
    .optional(),
);

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
      z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        // discord.js appends /v10 itself: …/api/v10 would call …/api/v10/v10/… and get 404s.
        .refine(
          // On the string: refinements run even when the URL check failed. Only after
          // /api, Discord's own layout: a proxy's base may end in a segment of its own.
          (u) => !/\/api\/v\d+\/*(?:[?#].*)?$/.test(u),
          'give the REST base without the API version (…/api, not …/api/v10)',
        )
        .optional(),
    ),
    DISCORD_GUILD_ID: optionalString.pipe(snowflake.optional()),
    DISCORD_SHARDS: shardTotal,
    DISCORD_SHARD_IDS: shardIds,
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
  })
  .superRefine(
    (env, ctx) => {
      const message = shardIdsProblem(env.DISCORD_SHARDS, env.DISCORD_SHARD_IDS);
      if (message) ctx.addIssue({ code: 'custom', path: ['DISCORD_SHARD_IDS'], message });
    },
    // A value that did not parse is still the raw string here, and already reported.
    {
      when: (payload) =>
        payload.issues.every(
          (i) => !['DISCORD_SHARDS', 'DISCORD_SHARD_IDS'].includes(String(i.path?.[0])),
        ),
    },
  );

/** Ids only make sense against a fixed total: with `auto` the total is Discord's to change. */
function shardIdsProblem(total: number | 'auto', ids: number[] | undefined): string | null {
  if (ids === undefined) return null;
  if (total === 'auto') {
    return 'needs DISCORD_SHARDS set to the number of shards in all processes together (a whole number, not auto)';
  }
  const outside = ids.find((id) => id >= total);
  if (outside !== undefined) {
    return `shard ${outside} does not exist: with DISCORD_SHARDS=${total} the ids are 0 to ${total - 1}`;
  }
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  return twice === undefined ? null : `lists shard ${twice} twice`;
}

/**
 * The gateway shards this process runs: `auto`, all of the count Discord recommends at
 * login; or `ids` out of `count` in all, the rest run by other processes.
 */
export type DiscordShards = 'auto' | { count: number; ids: number[] };

export interface DiscordConfig {
  token: string;
  applicationId: string;
  /** REST base without `/v10`; undefined = Discord's own. */
  apiUrl: string | undefined;
  /** Register commands for this guild only (instant) instead of globally. */
  guildId: string | undefined;
  /** Role ids or names whose members are moderators. */
  moderatorRoles: string[];
  shards: DiscordShards;
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
    shards: shardsOf(data.DISCORD_SHARDS, data.DISCORD_SHARD_IDS),
  };
}

function shardsOf(total: number | 'auto', ids: number[] | undefined): DiscordShards {
  if (total === 'auto') return 'auto';
  return { count: total, ids: ids ?? Array.from({ length: total }, (_, i) => i) };
}
