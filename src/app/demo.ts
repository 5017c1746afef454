import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import type { Actor } from '../deliberation/ports.js';
import type { DeliberationService, RoundTarget } from '../deliberation/service.js';
import { errorMessage } from '../domain/errors.js';
import { LIMITS } from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import { describePhase } from '../domain/phase.js';
import { PollScaleSchema } from '../domain/poll-scale.js';
import { createRng } from '../domain/random.js';
import { QuestionSchema } from '../domain/round.js';
import type { Scope } from '../domain/scope.js';
import { WelfareNameSchema } from '../domain/welfare-name.js';
import { ConsolePlatform } from '../platforms/console/console-platform.js';
import {
  findScenario,
  SCENARIOS,
  type Scenario,
  scenarioFromQuestion,
} from '../platforms/console/scenarios.js';
import { simulatedReaction } from '../platforms/console/simulation.js';
import { joinValues, onceEach } from './cli-args.js';
import { onClosedOutput } from './closed-output.js';
import { type Config, ConfigError, hasModelServer, loadConfig } from './config.js';
import { keptExportCommand } from './kept-export.js';
import { createLogger } from './logger.js';
import { chooseModels } from './models.js';
import { loadQuestionBank } from './question-bank.js';
import { connectRedis } from './redis.js';
import {
  type EphemeralRedis,
  hasRedisServerBinary,
  NO_REDIS_HELP,
  startEphemeralRedis,
} from './redis-server.js';
import { createRuntime, type Runtime } from './runtime.js';

const USAGE = `Usage: npm run demo -- [options]
  --question "<text>"   ask this question (members' opinions are simulated around it)
  --bank                pick a question from the Habermas question bank (by seed)
  --scenario <id>       one of: ${SCENARIOS.map((s) => s.id).join(', ')}
  --seed <n>            seed for every random choice (0 to 4294967295, default 1)
  --welfare <name>      utilitarian | egalitarian | nash | schulze | bridging (default egalitarian)
  --scale <name>        approval3 | likert7 (default approval3)
  --no-critique         skip the critique-and-revise round
  --rounds <n>          play n rounds (1-10, default 1) one after another in one
                        workspace, round i with seed + i - 1 (another question
                        each time, unless --question or --scenario fixes it):
                        once the workspace has LEARNED_MIN_RATINGS ratings, the
                        results say the learned model is blended in (for the
                        members who rated an earlier statement)
  --chart <file.png>    also write the results chart (PNG) to this file (the last
                        round's, with --rounds); a path that
                        cannot be written is an error: exit 2 before the round starts
                        (missing or read-only folder), 1 if the write itself fails
  --keep                keep the rounds in the Redis of REDIS_URL (needed: the
                        throwaway one goes with the demo) and print the
                        \`npm run export\` command that writes them as Polis files
  --help

Exit status: 0 when the round ran (also when the reader of the output stops early, as
with \`| head\`), 1 when it failed, 2 for a bad flag or setting, 129/130/143
when interrupted (SIGHUP/SIGINT/SIGTERM). The throwaway Redis is stopped whichever way it ends.`;

/** The demo's flags that take a value. */
const VALUE_FLAGS = new Set([
  'question',
  'scenario',
  'seed',
  'welfare',
  'scale',
  'chart',
  'rounds',
]);
const MAX_ROUNDS = 10;
/** createRng keeps a numeric seed's low 32 bits. */
const MAX_SEED = 2 ** 32 - 1;

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: onceEach(joinValues(argv, VALUE_FLAGS)),
    options: {
      question: { type: 'string' },
      bank: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      seed: { type: 'string', default: '1' },
      welfare: { type: 'string', default: 'egalitarian' },
      scale: { type: 'string', default: 'approval3' },
      'no-critique': { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
      chart: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const sources = [
    values.question !== undefined && '--question',
    values.bank && '--bank',
    values.scenario !== undefined && '--scenario',
  ].filter((f): f is string => typeof f === 'string');
  if (sources.length > 1) {
    throw new Error(`${sources.join(' and ')} each choose the question: give one of them`);
  }
  // Digits only, as for --rounds: Number() reads '' as 0 and takes '1e99' or '0x10', and
  // the rng keeps a seed's low 32 bits, so a larger one would replay another seed's round.
  const seed = Number(values.seed);
  if (!/^\d+$/.test(values.seed) || seed > MAX_SEED) {
    throw new Error(`--seed takes a whole number from 0 to ${MAX_SEED}`);
  }
  const rounds = Number(values.rounds);
  if (!/^\d+$/.test(values.rounds) || rounds < 1 || rounds > MAX_ROUNDS) {
    throw new Error(`--rounds takes a whole number from 1 to ${MAX_ROUNDS}`);
  }
  if (values.question !== undefined) checkQuestion(values.question);
  return {
    ...values,
    critique: !values['no-critique'],
    seed,
    rounds,
    welfare: oneOf('--welfare', WelfareNameSchema, values.welfare),
    scale: oneOf('--scale', PollScaleSchema, values.scale),
  };
}

/** A flag's value checked against its enum, with a sentence instead of zod's report. */
function oneOf<T extends string>(
  flag: string,
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false };
    options: readonly T[];
  },
  value: string,
): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new Error(`${flag} takes one of ${schema.options.join(', ')}; got "${value}"`);
  return parsed.data;
}

/** The service's own rule, checked here so that a bad question starts no Redis. */
function checkQuestion(question: string): void {
  const parsed = QuestionSchema.safeParse(question);
  if (parsed.success) return;
  const text = question.trim();
  if (text === '')
    throw new Error(
      '--question is empty: give the question to ask, e.g. --question "Should we ban cars from the city centre?"',
    );
  throw new Error(
    `--question has ${text.length} characters; the most is ${LIMITS.questionMaxChars}.`,
  );
}

/**
 * Why the chart cannot be written to `path`, or null. Checked before anything starts,
 * so a typo in the folder does not cost a whole round first; a write that still fails
 * (a full disk) is reported at the end.
 */
function chartPathProblem(path: string): string | null {
  if (path.trim() === '') return 'the file name is empty; give one, e.g. results.png';
  const file = resolve(path);
  const existing = statSync(file, { throwIfNoEntry: false });
  if (existing?.isDirectory())
    return `${path} is a folder; give a file name, e.g. ${join(path, 'results.png')}`;
  const folder = dirname(file);
  const parent = statSync(folder, { throwIfNoEntry: false });
  if (!parent) return `the folder ${folder} does not exist`;
  if (!parent.isDirectory()) return `${folder} is not a folder`;
  try {
    accessSync(existing ? file : folder, constants.W_OK);
  } catch {
    return existing ? `${file} is not writable` : `the folder ${folder} is not writable`;
  }
  return null;
}

type Options = ReturnType<typeof parseOptions>;

/** The question and the simulated group, from the flags. */
export function pickScenario(
  options: Pick<Options, 'question' | 'bank' | 'scenario' | 'seed'>,
): Scenario {
  if (options.scenario !== undefined) {
    const found = findScenario(options.scenario);
    if (!found) throw new Error(`Unknown scenario "${options.scenario}". ${USAGE}`);
    return found;
  }
  if (options.question !== undefined) {
    const text = options.question.trim();
    const known = SCENARIOS.find((s) => s.question.toLowerCase() === text.toLowerCase());
    if (known) return known;
    const bank = loadQuestionBank();
    // A question that is all question marks ("?") keeps them: stripped, the simulated
    // members would answer 'The answer to "" is yes'.
    const topic = text.replace(/\?+$/, '').trimEnd() || text;
    const record = bank.find((q) => q.question.toLowerCase() === text.toLowerCase()) ?? {
      question: text,
      affirming_statement: `The answer to "${topic}" is yes.`,
      negating_statement: `The answer to "${topic}" is no.`,
    };
    return scenarioFromQuestion(record, { seed: options.seed });
  }
  if (options.bank) {
    const bank = loadQuestionBank();
    const rng = createRng(options.seed);
    const record = bank[Math.floor(rng.next() * bank.length)];
    if (!record) throw new Error('The question bank is empty.');
    return scenarioFromQuestion(record, { seed: options.seed });
  }
  return SCENARIOS[options.seed % SCENARIOS.length] as Scenario;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${errorMessage(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const started = Date.now();
  // Before any process is started, so a bad flag or setting leaves nothing running.
  let config: Config;
  try {
    // The demo's quieter default goes in before validation, so an empty or padded
    // LOG_LEVEL is read as start and worker read it ("" = unset, " warn " = warn).
    const level = process.env.LOG_LEVEL?.trim() ? process.env.LOG_LEVEL : 'warn';
    config = loadConfig({ ...process.env, LOG_LEVEL: level });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    return 2;
  }
  shutdownTimeoutMs = config.SHUTDOWN_TIMEOUT_MS;
  const log: Log = createLogger(config.LOG_LEVEL);
  let scenarios: Scenario[];
  try {
    scenarios = Array.from({ length: options.rounds }, (_, i) =>
      pickScenario({ ...options, seed: options.seed + i }),
    );
    const problem = options.chart === undefined ? null : chartPathProblem(options.chart);
    if (problem) throw new Error(`--chart ${options.chart}: cannot write the chart: ${problem}.`);
  } catch (error) {
    console.error(errorMessage(error));
    return 2;
  }

  let redisUrl = config.REDIS_URL;
  if (options.keep && !redisUrl) {
    console.error(
      '--keep needs REDIS_URL: the throwaway Redis, and the rounds with it, go when the demo ends.',
    );
    return 2;
  }
  if (!redisUrl) {
    if (!hasRedisServerBinary()) {
      console.error(NO_REDIS_HELP);
      return 1;
    }
    // The promise itself, so a stop that comes while the server starts still stops it.
    live.ephemeral = startEphemeralRedis();
    redisUrl = (await live.ephemeral).url;
  }
  return runDemo(config, log, redisUrl, scenarios, options, started);
}

/** Where the demo's rounds live (every round of a run, so the learned model sees them all). */
const DEMO_SCOPE: Scope = { platform: 'console', workspaceId: 'demo' };

/** What a stop has to undo, filled in as the demo starts each piece (see exit). */
const live: {
  ephemeral: Promise<EphemeralRedis> | null;
  redis: Redis | null;
  runtime: Runtime | null;
  prefix: string | null;
  /** --keep: the rounds stay in Redis when the demo ends. */
  keep: boolean;
} = { ephemeral: null, redis: null, runtime: null, prefix: null, keep: false };

/** SHUTDOWN_TIMEOUT_MS, once the settings are read: the limit of the cleanup. */
let shutdownTimeoutMs = 10_000;

async function runDemo(
  config: Config,
  log: Log,
  redisUrl: string,
  scenarios: readonly Scenario[],
  options: Options,
  started: number,
): Promise<number> {
  const redis = await connectRedis(redisUrl);
  live.redis = redis;
  const names = new Map(scenarios.flatMap((s) => s.members.map((m) => [m.id, m.name] as const)));
  const chartPath = options.chart;
  const consolePlatform = new ConsolePlatform(
    (text) => console.log(text),
    (id) => names.get(id) ?? id,
    chartPath === undefined
      ? null
      : (_filename, png) => {
          writeFileSync(chartPath, png);
          console.log(`  (chart written to ${chartPath})`);
        },
  );
  const models = chooseModels(config, log);
  // A demo's keys live under their own root so a shared Redis keeps nothing of it.
  const demoConfig = { ...config, REDIS_PREFIX: `${config.REDIS_PREFIX}-demo-${process.pid}` };
  live.prefix = demoConfig.REDIS_PREFIX;
  live.keep = options.keep;
  const runtime = createRuntime({
    config: demoConfig,
    redis,
    log,
    generator: models.generator,
    rewardModel: models.rewardModel,
    platforms: { console: consolePlatform },
    runWorkers: true,
    // Round seeds from --seed too, so the same flags replay the same round (its shuffles
    // and samples), with a model server as offline.
    newSeed: (() => {
      const rounds = createRng(`rounds-${options.seed}`);
      return () => Math.floor(rounds.next() * 2 ** 31);
    })(),
  });
  live.runtime = runtime;
  console.log(
    `Consensus bot demo — ${models.description}; Redis ${config.REDIS_URL ? 'from REDIS_URL' : 'throwaway'}.`,
  );
  for (const [i, scenario] of scenarios.entries()) {
    if (scenarios.length > 1) console.log(`\n━━ Round ${i + 1} of ${scenarios.length}\n`);
    // One rng per round, as a single round's seed would give it.
    await playRound(
      runtime.service,
      consolePlatform,
      scenario,
      { ...options, seed: options.seed + i },
      config,
    );
  }
  if (chartPath !== undefined && consolePlatform.chartError) {
    throw new Error(
      `the results chart could not be written to ${chartPath} (${consolePlatform.chartError.message})`,
    );
  }
  console.log(`\nDemo finished in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
  if (options.keep) {
    console.log(
      `Rounds kept under REDIS_PREFIX=${demoConfig.REDIS_PREFIX} (workspace ${DEMO_SCOPE.workspaceId}). As Polis files:\n` +
        `  ${keptExportCommand(demoConfig.REDIS_URL ?? '', demoConfig.REDIS_PREFIX, DEMO_SCOPE.workspaceId)}`,
    );
  }
  return 0;
}

async function cleanupPrefix(redis: Redis, prefix: string) {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
}

/** One whole round, as members would play it in a channel. */
async function playRound(
  service: DeliberationService,
  platform: ConsolePlatform,
  scenario: Scenario,
  options: Options,
  config: Config,
) {
  const scope: Scope = DEMO_SCOPE;
  const channelId = 'demo-channel';
  const moderator: Actor = { userId: 'moderator', moderator: true, mayStart: true };
  const rng = createRng(options.seed);

  const round = await service.start({
    scope,
    channelId,
    actor: moderator,
    question: scenario.question,
    settings: { welfare: options.welfare, scale: options.scale },
  });
  await platform.waitFor('question', round.id);
  // The publisher links the thread to the round right after posting it.
  let thread = null;
  for (let i = 0; i < 200 && !thread; i++) {
    thread = (await service.resolve({ scope, channelId, roundId: round.id })).questionRef;
    if (!thread) await new Promise((r) => setTimeout(r, 10));
  }
  if (!thread) throw new Error('the question was posted but never linked to the round');

  let at = Date.now();
  for (const member of scenario.members) {
    console.log(`  💬 ${member.name}: ${member.opinion}`);
    await service.reply({
      scope,
      channelId,
      threadRootId: thread.messageId,
      messageId: `reply-${round.id}-${member.id}`,
      userId: member.id,
      text: member.opinion,
      at: at++,
    });
  }

  const target = { scope, channelId, roundId: round.id };
  const nameOf = (id: string) => scenario.members.find((m) => m.id === id)?.name ?? id;
  const waitMs = statementWaitMs(config, round.settings.candidates, scenario.members.length);

  /** Members react to a posted statement: noisy around their predicted approval. */
  async function react(version: number) {
    const statement = await statementOrFailure(platform, service, target, version, waitMs);
    const view = await service.statementView(await service.resolve(target), version);
    console.log('\n  Members react:');
    for (const p of view.predicted) {
      const key = simulatedReaction(p.approval, options.scale, rng);
      console.log(`    ${nameOf(p.participantId).padEnd(12)} ${key}`);
      await service.react({
        scope,
        channelId,
        messageId: statement.ref.messageId,
        userId: p.participantId,
        optionKey: key,
        at: at++,
        removed: false,
      });
    }
    return view;
  }

  console.log('\n  /consensus close');
  await service.close(target, moderator);
  const first = await react(1);

  if (options.critique) {
    // The members the statement serves worst say what it misses, in their own words.
    console.log('\n  /consensus critique');
    await service.critique(target, moderator);
    await platform.waitFor('critique-invite', round.id);
    const critics = first.predicted
      .filter((p) => p.approval !== null)
      .slice(-2)
      .map((p) => scenario.members.find((m) => m.id === p.participantId))
      .filter((m): m is Scenario['members'][number] => m !== undefined);
    for (const member of critics) {
      const critique = `It leaves out what matters most to me: ${missedPoint(member.opinion, first.statement)}`;
      console.log(`  ✍️  ${member.name}: ${critique}`);
      await service.reply({
        scope,
        channelId,
        threadRootId: thread.messageId,
        messageId: `critique-${round.id}-${member.id}`,
        userId: member.id,
        text: critique,
        at: at++,
      });
    }
    console.log('\n  /consensus close');
    await service.close(target, moderator);
    await react(2);
  }

  console.log('\n  /consensus finish');
  await service.finish(target, moderator);
  await platform.waitFor('results', round.id);
  const { usage } = await service.status(target);
  console.log(`\n${describeUsage(usage)}`);
}

/**
 * The sentence of a member's opinion the statement carries least of: the longest one not
 * quoted in it (a bare "No." is a stance, not a point a revision could take up).
 */
function missedPoint(opinion: string, statement: string): string {
  const sentences = opinion
    .split(/(?<=[.!?])\s+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const missing = sentences.filter((s) => !statement.includes(s));
  const pool = missing.length > 0 ? missing : sentences;
  return pool.reduce((best, s) => (s.length > best.length ? s : best), pool[0] ?? opinion);
}

/** setTimeout's largest delay; a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The longest the demo waits for one version's statement. A run that fails says so
 * itself (the round's phase becomes failed, with the reason), so this only catches a
 * pipeline that hangs, and it must never cut short a run the settings allow: generation
 * (K calls) then scoring (at most one call per member), each call spending every try on
 * its timeout and waiting out a server that is away, in waves of LLM_CONCURRENCY, at
 * LLM_REQUESTS_PER_MINUTE, with every job attempt and its backoff used.
 */
function statementWaitMs(config: Config, candidates: number, members: number): number {
  const tries = config.LLM_MAX_RETRIES + 1;
  const modelStage = (calls: number) => {
    if (!hasModelServer(config)) return 0;
    const waves = Math.ceil(calls / config.LLM_CONCURRENCY);
    const perCall = tries * config.LLM_TIMEOUT_MS + config.LLM_SERVER_WAIT_MS;
    const rpm = config.LLM_REQUESTS_PER_MINUTE;
    const rateMs = rpm > 0 ? Math.ceil((calls * tries) / rpm) * 60_000 : 0;
    return waves * perCall + rateMs;
  };
  const backoffMs = config.JOB_BACKOFF_MS * (2 ** (config.JOB_ATTEMPTS - 1) - 1);
  const stage = (calls: number) => config.JOB_ATTEMPTS * modelStage(calls) + backoffMs;
  // The slack covers queues and Redis, and the offline models, which make no calls.
  return Math.min(stage(candidates) + stage(members) + 30_000, MAX_TIMER_MS);
}

/** How often the demo looks at the round's phase while it waits for a statement. */
const PHASE_POLL_MS = 200;

/**
 * The statement, or the round's own failure reason once its run failed (e.g. the model
 * server is down). The phase is read, not the failure notice awaited: the notice goes
 * through the publish queue and may come late, or after an earlier version's.
 */
async function statementOrFailure(
  platform: ConsolePlatform,
  service: DeliberationService,
  target: RoundTarget & { roundId: string },
  version: number,
  waitMs: number,
) {
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const failed = new Promise<never>((_, reject) => {
    const look = () => {
      service.resolve(target, true).then((round) => {
        if (done) return;
        if (round.phase === 'failed') {
          reject(
            new Error(
              `the statement could not be produced: ${round.failureReason ?? 'the pipeline gave no reason'}`,
            ),
          );
        } else timer = setTimeout(look, PHASE_POLL_MS);
      }, reject);
    };
    timer = setTimeout(look, PHASE_POLL_MS);
  });
  const posted = platform.waitFor('statement', target.roundId, waitMs, version).catch(async () => {
    const round = await service.resolve(target, true);
    throw new Error(
      `no statement (version ${version}) within ${Math.round(waitMs / 1000)} s, the longest the settings allow ` +
        `(LLM_TIMEOUT_MS, LLM_MAX_RETRIES, LLM_SERVER_WAIT_MS, LLM_CONCURRENCY, LLM_REQUESTS_PER_MINUTE, JOB_ATTEMPTS); ` +
        `the round is still ${describePhase(round.phase)}`,
    );
  });
  try {
    return await Promise.race([posted, failed]);
  } finally {
    done = true;
    clearTimeout(timer);
  }
}

type StageUsage = { calls: number; promptTokens: number; completionTokens: number };

/** "Model use this round: generate 8 calls, ... tokens; ..." */
function describeUsage(usage: Record<string, StageUsage>): string {
  const stages = Object.entries(usage).filter(([, u]) => u.calls > 0);
  if (stages.length === 0) return '  Model use this round: no model calls (offline models).';
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = stages.map(
    ([stage, u]) =>
      `    ${stage.padEnd(9)} ${String(u.calls).padStart(3)} calls  ${n(u.promptTokens).padStart(8)} prompt + ${n(u.completionTokens).padStart(7)} completion tokens`,
  );
  const total = stages.reduce(
    (t, [, u]) => ({
      calls: t.calls + u.calls,
      promptTokens: t.promptTokens + u.promptTokens,
      completionTokens: t.completionTokens + u.completionTokens,
    }),
    { calls: 0, promptTokens: 0, completionTokens: 0 },
  );
  return [
    '  Model use this round:',
    ...lines,
    `    ${'total'.padEnd(9)} ${String(total.calls).padStart(3)} calls  ${n(total.promptTokens).padStart(8)} prompt + ${n(total.completionTokens).padStart(7)} completion tokens`,
  ].join('\n');
}

/** Resolves with `promise`, or after `ms` regardless: for steps a gone Redis would hold forever. */
function within(ms: number, promise: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise((r) => {
      timer = setTimeout(r, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

let stopping: Promise<void> | null = null;

/** Stops the throwaway redis-server and removes its folder, once, however often asked. */
function stopThrowaway(): Promise<void> {
  stopping ??= (async () => {
    const ephemeral = await live.ephemeral?.catch(() => null);
    await ephemeral?.stop();
  })();
  return stopping;
}

/** Undoes what the demo started, within SHUTDOWN_TIMEOUT_MS; the throwaway server always goes. */
async function cleanUp(): Promise<void> {
  const deadline = Date.now() + shutdownTimeoutMs;
  const left = () => Math.max(0, deadline - Date.now());
  try {
    await live.runtime?.close(left());
    if (live.redis && live.prefix && !live.keep) {
      await within(left(), cleanupPrefix(live.redis, live.prefix));
    }
  } catch {
    // Redis went away: there is nothing left to delete there.
  }
  live.redis?.disconnect();
  await stopThrowaway();
}

/** The code of the first exit asked for, once one was: what the demo exits with. */
let exitingWith: number | null = null;
/** And its message, so an interrupted cleanup still says why the demo stopped. */
let exitMessage: string | undefined;

/**
 * The one way out: cleans up, prints `message` last (after whatever the pipeline still
 * prints while it drains), and exits with `code`. The first caller's code wins, so an
 * error the cleanup itself causes in the round (its Redis closing) changes nothing.
 */
function exit(code: number, message?: string): void {
  if (exitingWith !== null) return;
  exitingWith = code;
  exitMessage = message;
  void (async () => {
    await cleanUp().catch(() => undefined);
    if (message) console.error(message);
    process.exit(code);
  })();
}

// The reader of the output went away (`npm run demo | head`): the throwaway server is
// stopped on the way out rather than left behind.
onClosedOutput(exit, { stopWhenClosed: true });

// Interrupted (Ctrl-C, a timeout's SIGTERM, the terminal or SSH session closing under it:
// SIGHUP, whose default death would leave the server and its folder behind): the demo cleans up and exits as the
// signal's own death would report it. One that comes while the demo is already on its
// way out does not wait for the round's jobs, only for the throwaway server to stop, and
// keeps the code it was leaving with: a round that finished still exits 0, as --help says.
const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
  process.on(signal, () => {
    const leaving = exitingWith;
    if (leaving === null) exit(code);
    else {
      void stopThrowaway().finally(() => {
        if (exitMessage) console.error(exitMessage);
        process.exit(leaving);
      });
    }
  });
}

for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (error: unknown) => exit(1, `Demo failed: ${errorMessage(error)}`));
}

main().then(
  (code) => exit(code),
  (error: unknown) => exit(1, `Demo failed: ${errorMessage(error)}`),
);
