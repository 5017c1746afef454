import type { Redis } from 'ioredis';
import { ConfigSchema } from '../../../src/app/config.js';
import { createRuntime, type Runtime } from '../../../src/app/runtime.js';
import { createSlack, type SlackConnection } from '../../../src/app/slack.js';
import { loadSlackConfig } from '../../../src/app/slack-config.js';
import type { DeliberationService } from '../../../src/deliberation/service.js';
import type { Scope } from '../../../src/domain/scope.js';
import { ExtractiveGenerator } from '../../../src/models/offline/extractive-generator.js';
import { LexicalRewardModel } from '../../../src/models/offline/lexical-reward-model.js';
import type { Generator, RewardModel } from '../../../src/models/ports.js';
import type { SlackCatchUpLimits } from '../../../src/platforms/slack/catch-up.js';
import type { SlackService } from '../../../src/platforms/slack/service.js';
import { FakeSlack, type MessageReaction, postSigned } from '../../fakes/slack.js';
import { RecordingLog, until as waitUntil } from '../../support/harness.js';
import { deletePrefix, testRedis } from '../../support/redis.js';

export const SECRET = 'fake-signing-secret-8f14e45fceea167a';
export const BOT_TOKEN = 'xoxb-fake-bot-token-1234';
export const APP_TOKEN = 'xapp-fake-app-token-5678';
export const TEAM = 'T0001';
export const CHANNEL = 'C0001';
export const SCOPE: Scope = { platform: 'slack', workspaceId: TEAM };

export type Mode = 'http' | 'socket';

export interface StackOptions {
  mode?: Mode;
  /**
   * The bot is installed org-wide for this Enterprise Grid organisation (`E…`); TEAM is
   * then one of its workspaces, which payloads name alongside the organisation.
   */
  organisation?: string;
  /** SLACK_MODERATORS */
  moderators?: string;
  /** Wraps the real service (to slow it down, for instance). */
  service?: (real: DeliberationService) => SlackService;
  /** Awaited before the generator and the reward model run (to order progress edits). */
  beforeGenerate?: () => Promise<void>;
  beforePredict?: () => Promise<void>;
  /** Web API retries; default: quick ones. */
  retry?: { retries: number; minTimeout: number; maxTimeout: number; factor: number };
  /** Bounds on what the adapter rereads at start. */
  catchUpLimits?: Partial<SlackCatchUpLimits>;
  /** More settings of the runtime (LIMIT_*, for instance), as environment variables. */
  env?: Record<
    string,
    string
  > /** The runtime's clock (limits count in its windows); default Date.now. */;
  now?: () => number;
}

export interface Reply {
  status: number;
  /** The acknowledgement's body (HTTP response or Socket Mode ack payload); null when empty. */
  body: Record<string, unknown> | null;
  ms: number;
}

/** The real Bolt app and runtime (Redis, BullMQ workers, offline models) against a fake Slack. */
export class Stack {
  readonly log = new RecordingLog();
  readonly fake: FakeSlack;
  slack!: SlackConnection;
  runtime!: Runtime;
  private redis!: Redis;
  private prefix = '';
  private url = '';
  private counter = 0;
  private clock = 1_800_000_000;
  /** Connects a fresh Slack adapter (the same settings) to the running runtime. */
  private connect: () => Promise<void> = async () => {};

  /** Where the bot stores this workspace's rounds: its team, or its organisation when org-wide. */
  get scope(): Scope {
    return this.organisation ? { platform: 'slack', workspaceId: this.organisation } : SCOPE;
  }

  constructor(
    readonly mode: Mode,
    private readonly organisation: string | null = null,
  ) {
    this.fake = new FakeSlack({
      teamId: TEAM,
      ...(organisation && { enterpriseId: organisation }),
    });
  }

  async start(options: StackOptions): Promise<this> {
    await this.fake.start();
    const env = testRedis();
    this.prefix = env.prefix;
    this.redis = env.connect();
    const config = ConfigSchema.parse({
      REDIS_PREFIX: env.prefix,
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '10',
      SHUTDOWN_TIMEOUT_MS: '5000',
      // One job at a time, in order: progress edits then arrive in a fixed sequence.
      WORKER_CONCURRENCY: '1',
      ...options.env,
    });
    const slackConfig = loadSlackConfig({
      SLACK_BOT_TOKEN: BOT_TOKEN,
      ...(this.mode === 'socket'
        ? { SLACK_APP_TOKEN: APP_TOKEN }
        : { SLACK_SIGNING_SECRET: SECRET }),
      SLACK_API_URL: this.fake.apiUrl,
      SLACK_MODERATORS: options.moderators ?? '',
      PORT: '0',
    });
    if (!slackConfig) throw new Error('Slack config did not enable Slack');
    const slackDeps = {
      log: this.log,
      retry: options.retry ?? { retries: 3, minTimeout: 10, maxTimeout: 50, factor: 1 },
      catchUpLimits: options.catchUpLimits,
    };
    this.slack = createSlack(slackConfig, slackDeps);
    this.runtime = createRuntime({
      config,
      redis: this.redis,
      log: this.log,
      generator: gated(new ExtractiveGenerator(), options.beforeGenerate),
      rewardModel: gatedModel(new LexicalRewardModel(), options.beforePredict),
      platforms: { slack: this.slack.port },
      runWorkers: true,
      now: options.now,
    });
    const service = options.service ? options.service(this.runtime.service) : this.runtime.service;
    const { port, scope } = await this.slack.start(service);
    this.runtime.publishFor(scope);
    if (this.mode === 'socket') await this.fake.connected;
    else this.url = `http://127.0.0.1:${port}/slack/events`;
    this.connect = async () => {
      this.slack = createSlack(slackConfig, slackDeps);
      const { port } = await this.slack.start(service);
      this.url = `http://127.0.0.1:${port}/slack/events`;
    };
    return this;
  }

  /**
   * The bot process goes down and comes back: the Slack adapter stops, `whileDown` changes
   * what the fake Slack holds, and a new adapter starts on the same Redis and workers (the
   * publish worker keeps posting through the first adapter's Web API client, as it may).
   */
  async restart(whileDown: () => void | Promise<void>): Promise<void> {
    if (this.mode === 'socket') throw new Error('restart() is for HTTP mode');
    await this.slack.stop(5_000);
    await whileDown();
    await this.connect();
  }

  async stop(): Promise<void> {
    await this.slack.stop(5_000);
    await this.runtime.close();
    await deletePrefix(this.redis, this.prefix);
    await this.redis.quit();
    await this.fake.stop();
  }

  /** Waits until every event and command the bot has taken is handled. */
  settle(): Promise<void> {
    return this.slack.idle();
  }

  /** A Slack message ts, later than every one before. */
  ts(): string {
    this.clock += 1;
    return `${this.clock}.000200`;
  }

  /** `/consensus <text>` from `user` (of `team`: another one in a shared channel) in `channel`. */
  async command(user: string, text: string, channel = CHANNEL, team = TEAM): Promise<Reply> {
    const n = ++this.counter;
    const fields = {
      token: 'legacy-verification-token',
      team_id: team,
      team_domain: 'fake',
      channel_id: channel,
      channel_name: 'general',
      user_id: user,
      user_name: user.toLowerCase(),
      command: '/consensus',
      text,
      api_app_id: 'A0001',
      ...(this.organisation && { enterprise_id: this.organisation }),
      is_enterprise_install: String(this.organisation !== null),
      response_url: `${this.fake.base}/respond/${n}`,
      trigger_id: `trigger-${n}`,
    };
    if (this.mode === 'socket') return this.viaSocket('slash_commands', fields);
    return this.viaHttp(
      new URLSearchParams(fields).toString(),
      'application/x-www-form-urlencoded',
    );
  }

  /**
   * An Events API delivery; the same `eventId` twice is a redelivery. `team` is the
   * envelope's team_id (in a shared channel: the team that owns the channel);
   * `installation` is the team the delivery is for (`authorizations`), by default `team`.
   */
  async event(
    event: Record<string, unknown>,
    options: {
      eventId?: string;
      retryNum?: number;
      team?: string;
      installation?: string;
      /** The organisation of an org-wide installation the delivery is for; default the bot's. */
      organisation?: string;
    } = {},
  ): Promise<Reply> {
    const team = options.team ?? TEAM;
    const installation = options.installation ?? team;
    const organisation = options.organisation ?? this.organisation;
    const envelope = {
      token: 'legacy-verification-token',
      team_id: team,
      api_app_id: 'A0001',
      type: 'event_callback',
      event_id: options.eventId ?? `Ev${String(++this.counter).padStart(6, '0')}`,
      event_time: Math.floor(Date.now() / 1000),
      ...(organisation && { enterprise_id: organisation }),
      // An org-wide installation's deliveries name the workspace as well as the organisation.
      authorizations: [
        {
          enterprise_id: organisation,
          team_id: installation,
          user_id: this.fake.botUserId,
          is_bot: true,
          is_enterprise_install: organisation !== null,
        },
      ],
      event,
    };
    if (this.mode === 'socket') {
      return this.viaSocket('events_api', envelope, options.retryNum);
    }
    return this.viaHttp(JSON.stringify(envelope), 'application/json', options.retryNum);
  }

  /** An interactivity payload (a form submission). */
  async interactive(payload: Record<string, unknown>): Promise<Reply> {
    if (this.mode === 'socket') return this.viaSocket('interactive', payload);
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    return this.viaHttp(body, 'application/x-www-form-urlencoded');
  }

  /** A raw signed (or mis-signed) HTTP request, for signature tests. */
  post(
    body: string,
    contentType: string,
    options: { timestamp?: number; signature?: string } = {},
  ) {
    return postSigned(this.url, body, contentType, { secret: SECRET, ...options });
  }

  private async viaHttp(body: string, contentType: string, retryNum?: number): Promise<Reply> {
    const res = await postSigned(this.url, body, contentType, { secret: SECRET, retryNum });
    return {
      status: res.status,
      body: res.text ? (JSON.parse(res.text) as Record<string, unknown>) : null,
      ms: res.ms,
    };
  }

  private async viaSocket(
    type: 'events_api' | 'slash_commands' | 'interactive',
    payload: Record<string, unknown>,
    retryAttempt?: number,
  ): Promise<Reply> {
    const started = Date.now();
    const ack = await this.fake.envelope(type, payload, { retryAttempt });
    return {
      status: 200,
      body: Object.keys(ack).length > 0 ? ack : null,
      ms: Date.now() - started,
    };
  }
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  return new Stack(options.mode ?? 'http', options.organisation).start(options);
}

function gated(inner: Generator, before?: () => Promise<void>): Generator {
  if (!before) return inner;
  return {
    name: inner.name,
    generate: async (...args: Parameters<Generator['generate']>) => {
      await before();
      return inner.generate(...args);
    },
  };
}

function gatedModel(inner: RewardModel, before?: () => Promise<void>): RewardModel {
  if (!before) return inner;
  return {
    name: inner.name,
    predict: async (...args: Parameters<RewardModel['predict']>) => {
      await before();
      return inner.predict(...args);
    },
  };
}

// ---- event payloads as Slack sends them ----------------------------------------------------

/** A member's reply in a thread (`thread_ts` given) or a top-level message (null). */
let lastClick = 0;
/** A click's action_ts as Slack writes it, later than the one before (clicks are ordered by it). */
export function clickTs(): string {
  lastClick = Math.max(Date.now(), lastClick + 1);
  return (lastClick / 1000).toFixed(6);
}

export function message(
  stack: Stack,
  user: string,
  text: string,
  threadTs: string | null,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const ts = stack.ts();
  return {
    type: 'message',
    channel: CHANNEL,
    user,
    text,
    ts,
    ...(threadTs ? { thread_ts: threadTs, parent_user_id: stack.fake.botUserId } : {}),
    event_ts: ts,
    channel_type: 'channel',
    ...extra,
  };
}

/**
 * A message_changed event for `original` whose new message `change` makes from the old
 * one's fields and the event's time.
 */
function changed(
  stack: Stack,
  original: Record<string, unknown>,
  change: (inner: Record<string, unknown>, eventTs: string) => Record<string, unknown>,
): Record<string, unknown> {
  const eventTs = stack.ts();
  const { channel, event_ts: _, channel_type: __, type: ___, ...inner } = original;
  return {
    type: 'message',
    subtype: 'message_changed',
    hidden: true,
    channel,
    ts: eventTs,
    event_ts: eventTs,
    channel_type: 'channel',
    message: { type: 'message', ...change(inner, eventTs) },
    previous_message: { type: 'message', ...inner },
  };
}

/**
 * A member edits `original` to `text`: the new message carries its `edited` mark, whose
 * time Slack gives in whole seconds (`editedTs`, by default the event's second).
 */
export function edited(
  stack: Stack,
  original: Record<string, unknown>,
  text: string,
  editedTs?: string,
): Record<string, unknown> {
  return changed(stack, original, (inner, eventTs) => ({
    ...inner,
    text,
    edited: { user: inner.user, ts: editedTs ?? `${eventTs.split('.')[0]}.000000` },
  }));
}

/**
 * Slack changing a message nobody edited: a link in it unfurled. The event is a
 * message_changed whose message has the attachment and keeps the `edited` it had, if any.
 */
export function unfurled(stack: Stack, original: Record<string, unknown>): Record<string, unknown> {
  const attachment = { id: 1, title: 'Example Domain', from_url: 'https://example.com/' };
  return changed(stack, original, (inner) => ({ ...inner, attachments: [attachment] }));
}

/** The message as it reads after an `edited` event: its new text and its `edited` mark. */
export function afterEdit(edit: Record<string, unknown>): Record<string, unknown> {
  const { message } = edit as { message: Record<string, unknown> };
  return { ...message, channel: edit.channel };
}

export function deleted(stack: Stack, original: Record<string, unknown>): Record<string, unknown> {
  const eventTs = stack.ts();
  const { channel, event_ts: _, channel_type: __, type: ___, ...inner } = original;
  return {
    type: 'message',
    subtype: 'message_deleted',
    hidden: true,
    channel,
    ts: eventTs,
    deleted_ts: inner.ts,
    event_ts: eventTs,
    channel_type: 'channel',
    previous_message: { type: 'message', ...inner },
  };
}

/**
 * A deletion as Slack sends it at times (very old messages, some clients): without
 * previous_message, so it names the channel and the deleted ts but not the thread.
 */
export function deletedWithoutThread(stack: Stack, ts: unknown): Record<string, unknown> {
  const eventTs = stack.ts();
  return {
    type: 'message',
    subtype: 'message_deleted',
    hidden: true,
    channel: CHANNEL,
    ts: eventTs,
    deleted_ts: ts,
    event_ts: eventTs,
    channel_type: 'channel',
  };
}

export function reaction(
  stack: Stack,
  user: string,
  name: string,
  itemTs: string,
  removed = false,
): Record<string, unknown> {
  return {
    type: removed ? 'reaction_removed' : 'reaction_added',
    user,
    reaction: name,
    item: { type: 'message', channel: CHANNEL, ts: itemTs },
    item_user: stack.fake.botUserId,
    event_ts: stack.ts(),
  };
}

export function until<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  return waitUntil(probe, timeoutMs);
}

/** Starts a round with `/consensus start` and returns it with its question's ts. */
export async function startRound(
  stack: Stack,
  text = 'start Should our team adopt a four-day week?',
  user = 'UMOD',
) {
  const ack = await stack.command(user, text);
  if (ack.status !== 200) throw new Error(`start was answered ${ack.status}`);
  const post = await stack.fake.waitFor(
    (c) =>
      c.method === 'chat.postMessage' &&
      String(c.args.text).startsWith('Question:') &&
      c.status === 200,
  );
  const questionTs = String(post.response?.ts);
  const round = await until(async () => {
    const [r] = await stack.runtime.store.rounds.openInChannel(stack.scope, CHANNEL);
    return r?.questionRef ? r : null;
  });
  return { round, questionTs };
}

export async function opinions(stack: Stack, roundId: string) {
  return stack.runtime.store.contributions.list(stack.scope, roundId, 'opinion', 0);
}

/** A member's click on a poll button (block_actions), as Slack sends it. */
export function click(
  stack: Stack,
  user: string,
  value: string,
  at: { statementTs: string; questionTs: string; blockId: string },
  /** The click's action_ts; by default later than every click before. */
  actionTs: string = clickTs(),
  /** The member's team (another one in a shared channel), and the click's response_url. */
  from: { team?: string; responseUrl?: string } = {},
): Promise<Reply> {
  const team = from.team ?? TEAM;
  return stack.interactive({
    type: 'block_actions',
    team: { id: team, domain: 'fake' },
    user: { id: user, team_id: team, username: user, name: user },
    ...(from.responseUrl && { response_url: from.responseUrl }),
    api_app_id: 'A0001',
    token: 'verification',
    trigger_id: `t-${user}-${value}`,
    container: {
      type: 'message',
      message_ts: at.statementTs,
      channel_id: CHANNEL,
      is_ephemeral: false,
    },
    channel: { id: CHANNEL, name: 'general' },
    message: { type: 'message', ts: at.statementTs, thread_ts: at.questionTs, text: 'Proposed' },
    actions: [
      {
        type: 'button',
        block_id: at.blockId,
        action_id: `rate_${value}`,
        value,
        action_ts: actionTs,
      },
    ],
  });
}

/**
 * Closes the round and waits for its statement and the bot's three poll reactions, which
 * the fake's reactions.get then lists (add members to `onStatement` as they react).
 */
export async function closeToPoll(
  s: Stack,
): Promise<{ statementTs: string; onStatement: MessageReaction[] }> {
  await s.command('UMOD', 'close');
  const statementPost = await s.fake.waitFor(
    (c) =>
      c.method === 'chat.postMessage' &&
      String(c.args.text).startsWith('Proposed statement') &&
      c.status === 200,
  );
  const statementTs = String(statementPost.response?.ts);
  await until(async () => s.fake.ok('reactions.add').length === 3);
  const onStatement: MessageReaction[] = [
    { name: '+1', users: [s.fake.botUserId] },
    { name: 'shrug', users: [s.fake.botUserId] },
    { name: '-1', users: [s.fake.botUserId] },
  ];
  s.fake.reactions.set(`${CHANNEL} ${statementTs}`, onStatement);
  return { statementTs, onStatement };
}

/** Three members' opinions on the four-day week, as U001, U002 and U003 give them. */
export const THREE_OPINIONS = [
  'A four-day week would reduce burnout and help us focus.',
  'Customers expect us five days a week, so support would suffer.',
  'Only as a three-month trial with Friday support covered.',
];

/** Starts a round and has U001-U003 give THREE_OPINIONS in its thread, handled. */
export async function roundWithOpinions(stack: Stack) {
  const started = await startRound(stack);
  for (const [i, text] of THREE_OPINIONS.entries()) {
    await stack.event(message(stack, `U00${i + 1}`, text, started.questionTs));
  }
  await stack.settle();
  return started;
}
