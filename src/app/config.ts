import { z } from 'zod';

/** Empty strings count as unset: `FOO=` in a .env file means "no value". */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const intFrom = (fallback: number, min: number, max: number) =>
  optionalString
    .pipe(
      z
        .string()
        .regex(/^\d+$/, 'must be a whole number')
        .transform(Number)
        .pipe(z.number().int().min(min).max(max))
        .optional(),
    )
    .transform((v) => v ?? fallback);

/** Every setting the processes read, validated once at start. */
export const ConfigSchema = z.object({
  REDIS_URL: optionalString,
  /** Root of every Redis key the bot writes (rounds and queues). */
  REDIS_PREFIX: optionalString
    .pipe(
      z
        .string()
        .regex(/^[A-Za-z0-9_{}.-]+$/, 'letters, digits and _ { } . - only')
        .optional(),
    )
    .transform((v) => v ?? 'dlb'),
  LOG_LEVEL: optionalString
    .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional())
    .transform((v) => v ?? 'info'),
  WORKER_CONCURRENCY: intFrom(8, 1, 1_000),
  JOB_ATTEMPTS: intFrom(3, 1, 50),
  JOB_BACKOFF_MS: intFrom(1_000, 0, 3_600_000),
  SHUTDOWN_TIMEOUT_MS: intFrom(10_000, 0, 600_000),
  OPENAI_BASE_URL: optionalString,
  OPENAI_API_KEY: optionalString,
});
export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; a bad value names the variable, never echoes a secret. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** A Redis URL fit for logs and error messages: the password is masked. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.startsWith('/') ? url : '(unparseable URL)';
  }
}
