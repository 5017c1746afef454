import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { type Scope, ScopeSchema } from '../domain/scope.js';
import { onClosedOutput } from './closed-output.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { connectRedis, RedisUnavailableError } from './redis.js';

/**
 * What `npm run export` and `npm run forget` share: both name one workspace with
 * `--platform` and `--workspace`, and both read the bot's Redis. Each returns what the
 * command needs, or the line for stderr and the exit status.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string; status: number };

/**
 * The workspace the flags name. A flag left out (or given empty, as `--workspace
 * "$UNSET"` gives it) is named as missing, not in the schema's words ("expected string,
 * received undefined").
 */
export function workspaceFromFlags(
  command: string,
  values: { platform?: string; workspace?: string },
  usage: string,
  alsoRequired: Record<string, string | undefined> = {},
): Outcome<Scope> {
  const required = { platform: values.platform, workspace: values.workspace, ...alsoRequired };
  const missing = Object.entries(required)
    .filter(([, v]) => v === undefined || v === '')
    .map(([f]) => `--${f}`);
  if (missing.length > 0) {
    return { ok: false, message: `${command}: missing ${missing.join(', ')}\n${usage}`, status: 2 };
  }
  const scope = ScopeSchema.safeParse({ platform: values.platform, workspaceId: values.workspace });
  if (!scope.success) {
    const issue = scope.error.issues[0];
    const flag = issue?.path[0] === 'platform' ? 'platform' : 'workspace';
    return { ok: false, message: `${command}: --${flag}: ${issue?.message}\n${usage}`, status: 2 };
  }
  return { ok: true, value: scope.data };
}

/** The settings, with REDIS_URL, and a connection to that Redis. */
export async function connectToBotRedis(
  command: string,
  purpose: string,
): Promise<Outcome<{ config: Config & { REDIS_URL: string }; redis: Redis }>> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      return { ok: false, message: `${command}: ${error.message}`, status: 2 };
    }
    throw error;
  }
  const url = config.REDIS_URL;
  if (!url) {
    return { ok: false, message: `${command}: REDIS_URL is not set; ${purpose}`, status: 2 };
  }
  try {
    return {
      ok: true,
      value: { config: { ...config, REDIS_URL: url }, redis: await connectRedis(url) },
    };
  } catch (error) {
    if (error instanceof RedisUnavailableError) {
      return { ok: false, message: `${command}: ${error.message}`, status: 1 };
    }
    throw error;
  }
}

/**
 * Runs `main` with the process's arguments when `moduleUrl` is the script node started
 * (a test imports the module without running it); its result is the exit status.
 */
export function runAsScript(
  moduleUrl: string,
  command: string,
  main: (argv: readonly string[]) => Promise<number>,
): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  onClosedOutput((code) => process.exit(code), { stopWhenClosed: false });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${command}: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
