import pino from 'pino';
import type { Log } from '../domain/log.js';
import { unencodedCredentials } from './url-credentials.js';

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

/** Settings whose whole value is a secret. */
export const SECRET_VARIABLES = [
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'DISCORD_TOKEN',
  'OPENAI_API_KEY',
] as const;

/** Settings that are URLs and may carry credentials (user:password@, ?password=, ?api-key=). */
const URL_VARIABLES = ['REDIS_URL', 'OPENAI_BASE_URL', 'SLACK_API_URL', 'DISCORD_API_URL'] as const;

/**
 * Query parameters whose value is a credential (`?password=`, `?api-key=`, `?token=`, …);
 * `code` is the key of a gateway run as an Azure Function (`?code=`).
 */
const SECRET_QUERY_KEY = /pass|secret|token|key|auth|sig|cred|code/i;

/**
 * Shorter values are not masked in free text: replacing a two-letter password everywhere
 * would garble every line and hide nothing (the fixed paths above still apply).
 */
const MIN_SECRET_LENGTH = 4;

export const CENSOR = '[redacted]';

/**
 * Shapes of tokens that are secret whoever configured them: Slack (xoxb-, xoxp-, xapp-…),
 * OpenAI-style keys (sk-…), bearer credentials, Discord bot tokens and JWTs. They are masked even when they are not this process's own (a token pasted in an
 * opinion, a key echoed by a proxy).
 */
const TOKEN_PATTERNS: readonly [RegExp, string][] = [
  [/\bx(?:ox[abeoprs]|app)-[A-Za-z0-9-]{6,}/g, CENSOR],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, CENSOR],
  [/\b(Bearer)(\s+)[A-Za-z0-9._~+/-]{8,}=*/gi, `$1$2${CENSOR}`],
  // Discord: base64 user id, a 6-character timestamp, an HMAC of 27 characters or more.
  [/\b[A-Za-z0-9_-]{23,}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,}/g, CENSOR],
  [/\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, CENSOR],
];

/** The credentials a URL carries: its password, and values of credential-like query keys. */
export function urlSecrets(url: string): string[] {
  const found: string[] = [];
  const q = url.indexOf('?');
  const query = q === -1 ? '' : url.slice(q + 1);
  const unencoded = unencodedCredentials(url);
  if (unencoded !== null) found.push(unencoded, ...unencoded.split(':'));
  if (!url.startsWith('/')) {
    try {
      const parsed = new URL(url);
      if (parsed.password) found.push(parsed.password, decodeURIComponent(parsed.password));
    } catch {
      // Not a URL: nothing to take apart (the setting's own validation says so).
    }
  }
  for (const [key, value] of new URLSearchParams(query)) {
    if (SECRET_QUERY_KEY.test(key) && value) found.push(value, encodeURIComponent(value));
  }
  return found;
}

/** Every configured secret value: the secret settings, and credentials inside URL settings. */
export function secretsFrom(env: NodeJS.ProcessEnv): string[] {
  const values: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const value = env[name]?.trim();
    if (value) values.push(value);
  }
  for (const name of URL_VARIABLES) {
    const value = env[name]?.trim();
    if (value) values.push(...urlSecrets(value));
  }
  return [...new Set(values)].filter((v) => v.length >= MIN_SECRET_LENGTH);
}

/**
 * Masks secrets in one serialized log line. It runs on the JSON text, so it reaches every
 * string of the line: messages, fields at any depth, error messages and stacks. Values
 * are matched as they appear inside JSON strings (escaped), longest first so that a
 * secret containing another is masked whole.
 */
export function redactor(secrets: readonly string[]): (line: string) => string {
  const forms = [
    ...new Set(secrets.flatMap((s) => [JSON.stringify(s).slice(1, -1), encodeURIComponent(s)])),
  ]
    .filter((f) => f.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length);
  return (line) => {
    let out = line;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(CENSOR);
    for (const [pattern, replacement] of TOKEN_PATTERNS) out = out.replace(pattern, replacement);
    return out;
  };
}

/**
 * Fields some clients' errors carry with the request they failed on: ioredis's `command`
 * (a round's JSON or a member's opinion in its arguments), discord.js's `requestBody` (a
 * post's text). A log line keeps the error's message, code and stack, never a payload.
 */
const PAYLOAD_FIELDS = ['command', 'requestBody'] as const;

function serializeError(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(serializeError);
  if (!(value instanceof Error)) return value;
  const serialized: Record<string, unknown> = { ...pino.stdSerializers.err(value) };
  for (const field of PAYLOAD_FIELDS) delete serialized[field];
  // Errors inside it (ioredis's EXECABORT lists each refused command's error), whatever
  // the field: pino would write them with their requests.
  for (const [field, inner] of Object.entries(serialized)) {
    if (inner instanceof Error || Array.isArray(inner)) serialized[field] = serializeError(inner);
  }
  return serialized;
}

/**
 * Structured JSON logs (pino) on stderr, so stdout stays for what users asked to see.
 * Fixed key paths are censored as objects are serialized; then every configured secret
 * value and every token-shaped string is masked in the finished line.
 */
export function createLogger(
  level: string,
  destination: NodeJS.WritableStream = process.stderr,
  secrets: readonly string[] = secretsFrom(process.env),
): Log {
  return pino(
    {
      level,
      serializers: { err: serializeError, error: serializeError, cause: serializeError },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      base: { pid: process.pid },
      hooks: { streamWrite: redactor(secrets) },
    },
    destination,
  );
}
