import { DiscordAPIError, HTTPError } from 'discord.js';
import { errorMessage } from '../../domain/errors.js';

/** Interaction and webhook tokens sit in URL paths; each lets anyone post as the app for 15 minutes. */
const TOKEN_IN_PATH = /\/(interactions|webhooks)\/(\d+)\/[^/?\s]+/g;
/** The shape of a bot token (three base64url parts), wherever it might surface. */
const BOT_TOKEN = /[\w-]{20,}\.[\w-]{5,}\.[\w-]{20,}/g;

export function redact(text: string): string {
  return text.replace(TOKEN_IN_PATH, '/$1/$2/***').replace(BOT_TOKEN, '***');
}

/** Whether Discord answered with one of these JSON error codes (RESTJSONErrorCodes). */
export function hasDiscordCode(error: unknown, ...codes: number[]): boolean {
  return error instanceof DiscordAPIError && codes.includes(Number(error.code));
}

/** Fields for a log line about a failed Discord call: no token, no request body. */
export function describeError(error: unknown): Record<string, string | number> {
  if (error instanceof DiscordAPIError) {
    return {
      err: redact(error.message),
      code: error.code,
      status: error.status,
      method: error.method,
      path: redact(new URL(error.url).pathname),
    };
  }
  if (error instanceof HTTPError) {
    return {
      err: redact(error.message),
      status: error.status,
      method: error.method,
      path: redact(new URL(error.url).pathname),
    };
  }
  return { err: redact(errorMessage(error)) };
}
