import pino from 'pino';
import type { Log } from '../domain/log.js';

/** Paths whose values never reach a log line, wherever they appear in logged objects. */
export const REDACT_PATHS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'apiKey',
  'password',
  'authorization',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  '*.apiKey',
  '*.password',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'DISCORD_TOKEN',
  'OPENAI_API_KEY',
];

/** Structured JSON logs (pino) on stderr, so stdout stays for what users asked to see. */
export function createLogger(
  level: string,
  destination: NodeJS.WritableStream = process.stderr,
): Log {
  return pino(
    { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    destination,
  );
}
