import { z } from 'zod';
import { DEFAULT_COMMAND_LIMITS } from '../domain/limits.js';
import { unencodedCredentials, withoutUnencodedCredentials } from './url-credentials.js';

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

export const DEFAULT_LLM_MODEL = 'gpt-4o-mini';
export const DEFAULT_EMBEDDING_MODEL = 'text-embedding-3-small';

/** Every setting the processes read, validated once at start. */
export const ConfigSchema = z.object({
  REDIS_URL: optionalString.pipe(
    z
      .string()
      // ioredis would read any other word as a host name and fail only at connect time.
      .refine(
        (v) => /^rediss?:\/\//i.test(v) || v.startsWith('/'),
        'a redis:// or rediss:// URL, or a socket path, e.g. redis://127.0.0.1:6379',
      )
      // Read as a host name otherwise, and printed as one in the connection error.
      .refine(
        (v) => unencodedCredentials(v) === null,
        'its user name or password holds / ? or #, which must be percent-encoded there (%2F %3F %23)',
      )
      .refine((v) => v.startsWith('/') || URL.canParse(v), 'not a URL ioredis can read')
      .optional(),
  ),
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
  /**
   * A job whose worker stopped renewing its lock (killed, hung) for this long is handed
   * to another worker; also how often workers look for such jobs. BullMQ's default.
   */
  WORKER_STALL_INTERVAL_MS: intFrom(30_000, 1_000, 600_000),
  /** Rounds one member may start per hour, across every bot process; 0 = no limit. */
  LIMIT_STARTS_PER_MEMBER_PER_HOUR: intFrom(
    DEFAULT_COMMAND_LIMITS.startsPerMemberPerHour,
    0,
    1_000_000,
  ),
  /** Rounds one workspace or guild may start per hour; 0 = no limit. */
  LIMIT_STARTS_PER_WORKSPACE_PER_HOUR: intFrom(
    DEFAULT_COMMAND_LIMITS.startsPerWorkspacePerHour,
    0,
    1_000_000,
  ),
  /** Commands of every kind one member may run per minute, across every bot process; 0 = no limit. */
  LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE: intFrom(
    DEFAULT_COMMAND_LIMITS.commandsPerMemberPerMinute,
    0,
    1_000_000,
  ),
  /** Commands one workspace or guild may run per minute; 0 = no limit. */
  LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE: intFrom(
    DEFAULT_COMMAND_LIMITS.commandsPerWorkspacePerMinute,
    0,
    1_000_000,
  ),
  /** Exports (each posts five files) one member may ask for per hour, besides the above; 0 = no limit. */
  LIMIT_EXPORTS_PER_MEMBER_PER_HOUR: intFrom(
    DEFAULT_COMMAND_LIMITS.exportsPerMemberPerHour,
    0,
    1_000_000,
  ),
  /** Exports one workspace or guild may ask for per hour; 0 = no limit. */
  LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR: intFrom(
    DEFAULT_COMMAND_LIMITS.exportsPerWorkspacePerHour,
    0,
    1_000_000,
  ),
  /** Rounds open at once in one channel; 0 = no limit. */
  MAX_OPEN_ROUNDS_PER_CHANNEL: intFrom(DEFAULT_COMMAND_LIMITS.openRoundsPerChannel, 0, 10_000),
  /** HTTP port: the Slack endpoint in HTTP mode, and /healthz, /readyz, /metrics. */
  PORT: intFrom(3_000, 0, 65_535),
  /** Where /healthz, /readyz and /metrics listen when PORT is not served (Socket Mode). */
  METRICS_PORT: intFrom(0, 0, 65_535).transform((v) => (v === 0 ? null : v)),
  /** `npm start` runs the pipeline workers too unless this is false (compose runs them apart). */
  RUN_WORKERS: optionalString
    .pipe(z.enum(['true', 'false', '1', '0']).optional())
    .transform((v) => v === undefined || v === 'true' || v === '1'),
  /** Any OpenAI-compatible server (OpenAI, a gateway, Ollama, vLLM, llama.cpp, LM Studio). */
  OPENAI_BASE_URL: optionalString.pipe(
    z
      .url({
        protocol: /^https?$/,
        error: 'must be an http(s) URL, e.g. http://localhost:11434/v1',
      })
      // The OpenAI client sends no Basic auth from a URL: user:password@ would be dropped
      // without a word, and the server's 401 would not say why.
      .refine((url) => {
        const { username, password } = new URL(url);
        return username === '' && password === '';
      }, 'must not hold a user name or password, which would not be sent: give the key in OPENAI_API_KEY')
      .optional(),
  ),
  OPENAI_API_KEY: optionalString,
  /** Writes the candidate statements. */
  LLM_MODEL: optionalString.transform((v) => v ?? DEFAULT_LLM_MODEL),
  /** Rates them for each member; unset = LLM_MODEL (see judgeModel). */
  LLM_JUDGE_MODEL: optionalString,
  EMBEDDING_MODEL: optionalString.transform((v) => v ?? DEFAULT_EMBEDDING_MODEL),
  /** Which reward model predicts approval when a model server is configured. */
  REWARD_MODEL: optionalString
    .pipe(z.enum(['judge', 'embedding', 'lexical']).optional())
    .transform((v) => v ?? 'judge'),
  /**
   * Ratings a workspace needs before the reward model is blended with the one learned
   * from them (see README, "Learning from ratings"); 0 = always blend once any exist.
   */
  LEARNED_MIN_RATINGS: intFrom(30, 0, 10_000_000),
  /**
   * The learned model fits on the workspace's latest this many statements and their
   * ratings (0 = all of them): what bounds a fit's time and memory as a workspace ages.
   */
  LEARNED_MAX_STATEMENTS: intFrom(1000, 0, 1_000_000),
  /**
   * Longest a scoring waits for its learned-model fit, its turn for the fit thread
   * included (0 = no limit); past it the round is scored by the base model alone.
   */
  LEARNED_FIT_TIMEOUT_MS: intFrom(120_000, 0, 3_600_000),
  /** One request's limit; a request that takes longer counts as failed and is retried. */
  LLM_TIMEOUT_MS: intFrom(60_000, 1_000, 600_000),
  /** Further tries of one model call after a server error, timeout or unusable output. */
  LLM_MAX_RETRIES: intFrom(2, 0, 10),
  /**
   * How long a model call waits for a server that is unreachable or answers 502/503/504
   * (down, restarting, loading a model) before the round fails with a message; 0 = no
   * waiting beyond LLM_MAX_RETRIES and JOB_ATTEMPTS.
   */
  LLM_SERVER_WAIT_MS: intFrom(120_000, 0, 3_600_000),
  /** Model requests in flight at once across every worker on this Redis (and in each process). */
  LLM_CONCURRENCY: intFrom(16, 1, 256),
  /** Largest generation prompt (estimated tokens); larger groups are clustered and summarised. */
  LLM_PROMPT_BUDGET_TOKENS: intFrom(6_000, 500, 1_000_000),
  /** Fewest opinions clustered on embeddings; fewer go on word vectors (no extra call). 0 = always. */
  LLM_EMBED_CLUSTERING_MIN: intFrom(300, 0, 1_000_000),
  /** Most members one judge call rates, used once a round has more members than LLM_CONCURRENCY; 1 = one call each. */
  LLM_JUDGE_BATCH: intFrom(12, 1, 50),
  /** Requests per minute across every worker sharing this Redis; 0 = no limit. */
  LLM_REQUESTS_PER_MINUTE: intFrom(0, 0, 1_000_000),
  /** Prompt + completion tokens one round may spend, all stages and versions; 0 = no limit. */
  LLM_ROUND_TOKEN_BUDGET: intFrom(200_000, 0, 100_000_000),
  /** Longest consensus statement the generator may write, in words. */
  LLM_WORD_BUDGET: intFrom(120, 20, 1_000),
});
export type Config = z.infer<typeof ConfigSchema>;

/**
 * The port of /healthz, /readyz and /metrics that the container's HEALTHCHECK asks, and
 * that serve() always listens on: METRICS_PORT when set (every process serves them there,
 * also beside a Slack HTTP endpoint on PORT), otherwise PORT.
 */
export function healthPort(config: Pick<Config, 'PORT' | 'METRICS_PORT'>): number {
  return config.METRICS_PORT ?? config.PORT;
}

/** True when the model path is configured: a base URL (local servers need no key) or a key. */
export function hasModelServer(config: Pick<Config, 'OPENAI_BASE_URL' | 'OPENAI_API_KEY'>) {
  return config.OPENAI_BASE_URL !== undefined || config.OPENAI_API_KEY !== undefined;
}

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

/** The judge model, which defaults to the generation model. */
export function judgeModel(config: Pick<Config, 'LLM_MODEL' | 'LLM_JUDGE_MODEL'>): string {
  return config.LLM_JUDGE_MODEL ?? config.LLM_MODEL;
}

/**
 * A URL fit for logs and error messages: user name, password and every query value are
 * masked (a token may be the user name, and `?password=`, `?api-key=` carry credentials).
 * A unix socket path (ioredis takes `/path/redis.sock?password=…`) keeps its path.
 */
export function redactUrl(url: string): string {
  const maskQuery = (query: string) => {
    const params = new URLSearchParams(query);
    for (const key of new Set(params.keys())) params.set(key, '***');
    return params.toString();
  };
  if (url.startsWith('/')) {
    const q = url.indexOf('?');
    return q === -1 ? url : `${url.slice(0, q)}?${maskQuery(url.slice(q + 1))}`;
  }
  try {
    const parsed = new URL(withoutUnencodedCredentials(url));
    parsed.username = '';
    parsed.password = '';
    parsed.search = parsed.search ? maskQuery(parsed.search.slice(1)) : '';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
