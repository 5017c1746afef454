import { z } from 'zod';
import { ConfigError } from './config.js';

/** Empty strings count as unset: `FOO=` in a .env file means "no value". */
const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const SLACK_API = 'https://slack.com/api/';

/** Messages never include the value: a mistyped variable may hold a secret. */
export const SlackEnvSchema = z
  .object({
    // A token of another Slack kind is refused here (a user or app token where the bot
    // token belongs is the usual mix-up); against Slack itself, any other value is too (below).
    SLACK_BOT_TOKEN: optional.pipe(
      z
        .string()
        .refine(
          (v) => !/^(xox[ac-z]-|xapp-)/.test(v),
          'must be the bot token, which starts with xoxb-',
        )
        .optional(),
    ),
    SLACK_APP_TOKEN: optional.pipe(
      z
        .string()
        .refine((v) => !/^xox[a-z]-/.test(v), 'must be an app-level token, which starts with xapp-')
        .optional(),
    ),
    SLACK_SIGNING_SECRET: optional,
    SLACK_API_URL: optional
      .pipe(
        z
          .url({
            protocol: /^https?$/,
            error: 'must be an http(s) URL, e.g. https://slack.com/api/',
          })
          .optional(),
      )
      .transform((v) => {
        const url = v ?? SLACK_API;
        return url.endsWith('/') ? url : `${url}/`;
      }),
    SLACK_MODERATORS: optional.transform((v, ctx) => {
      if (v === undefined) return null;
      const ids = v
        .split(',')
        .map((id) => id.trim())
        .filter((id) => id.length > 0);
      ids.forEach((id, i) => {
        if (/^[UW][A-Z0-9]+$/.test(id)) return;
        // A short plain word is quoted, to point at the typo; anything longer or with a
        // dash may be a token pasted into the wrong line, and is named by its place only.
        const which = /^[A-Za-z0-9._]{1,20}$/.test(id) ? `"${id}"` : `entry ${i + 1}`;
        ctx.addIssue({
          code: 'custom',
          message: `${which} is not a Slack member id (like U012AB3CD); separate ids with commas`,
        });
      });
      return ids.length > 0 ? ids : null;
    }),
    PORT: optional
      .pipe(
        z
          .string()
          .regex(/^\d+$/, 'must be a port number from 0 to 65535')
          .transform(Number)
          .pipe(z.number().int().min(0).max(65_535, 'must be a port number from 0 to 65535'))
          .optional(),
      )
      .transform((v) => v ?? 3000),
  })
  .superRefine((env, ctx) => {
    if (!env.SLACK_BOT_TOKEN) {
      if (env.SLACK_APP_TOKEN || env.SLACK_SIGNING_SECRET) {
        ctx.addIssue({
          code: 'custom',
          path: ['SLACK_BOT_TOKEN'],
          message: 'is required when SLACK_APP_TOKEN or SLACK_SIGNING_SECRET is set (xoxb-…)',
        });
      }
      return;
    }
    // Slack's own tokens always carry their prefix; a local fake's need not.
    if (env.SLACK_API_URL === SLACK_API) {
      if (!env.SLACK_BOT_TOKEN.startsWith('xoxb-')) {
        ctx.addIssue({
          code: 'custom',
          path: ['SLACK_BOT_TOKEN'],
          message: 'must be the bot token, which starts with xoxb-',
        });
      }
      if (env.SLACK_APP_TOKEN && !env.SLACK_APP_TOKEN.startsWith('xapp-')) {
        ctx.addIssue({
          code: 'custom',
          path: ['SLACK_APP_TOKEN'],
          message: 'must be an app-level token, which starts with xapp-',
        });
      }
    }
    if (!env.SLACK_APP_TOKEN && !env.SLACK_SIGNING_SECRET) {
      ctx.addIssue({
        code: 'custom',
        path: ['SLACK_SIGNING_SECRET'],
        message:
          'is required in HTTP mode (Basic Information → Signing Secret); or set SLACK_APP_TOKEN for Socket Mode',
      });
    }
  });

export interface SlackConfig {
  mode: 'socket' | 'http';
  botToken: string;
  appToken: string | null;
  signingSecret: string | null;
  /** Web API base, ending in `/`. */
  apiUrl: string;
  /** null = SLACK_MODERATORS unset: anyone may start a round. */
  moderatorIds: string[] | null;
  /** HTTP mode: port of POST /slack/events. */
  port: number;
}

/** The Slack settings, or null when Slack is not enabled (no SLACK_BOT_TOKEN). */
export function loadSlackConfig(env: NodeJS.ProcessEnv = process.env): SlackConfig | null {
  const parsed = SlackEnvSchema.safeParse(env);
  if (!parsed.success) {
    // A token of the wrong kind fails its own check and the one against Slack's prefixes:
    // one line each is enough.
    const lines = new Set(parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`));
    throw new ConfigError(`Invalid configuration:\n${[...lines].join('\n')}`);
  }
  const e = parsed.data;
  if (!e.SLACK_BOT_TOKEN) return null;
  return {
    mode: e.SLACK_APP_TOKEN ? 'socket' : 'http',
    botToken: e.SLACK_BOT_TOKEN,
    appToken: e.SLACK_APP_TOKEN ?? null,
    signingSecret: e.SLACK_SIGNING_SECRET ?? null,
    apiUrl: e.SLACK_API_URL,
    moderatorIds: e.SLACK_MODERATORS,
    port: e.PORT,
  };
}
