import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/domain/scope.js';
import { PipelineQueues } from '../../src/pipeline/queues.js';
import { createStore } from '../../src/store/store.js';
import { FakeDiscord, snowflake } from '../fakes/discord.js';
import { FakeOpenAI } from '../fakes/openai.js';
import { FakeSlack } from '../fakes/slack.js';
import { until } from '../support/harness.js';
import { AofRedis, type AppProcess, childEnv, drained, kill, launch } from './support.js';

// Fake secrets, distinctive enough that any trace of them in a log is found.
const BOT_TOKEN = 'xoxb-secrets-3e9a1c7d5b2f';
const APP_TOKEN = 'xapp-1-A0SECRETS-8d4f2b6e0c1a';
const DISCORD_TOKEN = 'MTQ0NDQ0NDQ0NDQ0NDQ0NDQ0.GsEcRt.secrets-fault-discord-token-2c7e9a4f';
const API_KEY = 'sk-secrets-5f1e9d3c7b2a';
const REDIS_PASSWORD = 'redispw-secrets-4a8c2e6f';
const TEAM = 'T0SECRET';
const CHANNEL = 'C0SECRET';
const SCOPE: Scope = { platform: 'slack', workspaceId: TEAM };
const OPINIONS: Record<string, string> = {
  U001: 'Yes. A four-day week would reduce burnout and help us focus on the work that matters most.',
  U002: 'No. Our customers expect us five days a week, and support would suffer without Friday cover.',
  U003: 'Only with a rota that keeps Friday support covered, and as a three-month trial first.',
};

describe('the logs of a round in Socket Mode, with Discord on and a password on Redis', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('hold no token, key or password, though every one of them was in use', async () => {
    const server = new AofRedis(['--requirepass', REDIS_PASSWORD]);
    await server.start();
    cleanups.push(() => server.stop());
    const redis = new Redis({ path: server.socketPath, password: REDIS_PASSWORD });
    cleanups.push(async () => redis.disconnect());
    const prefix = 'secrets';
    const store = createStore(redis, prefix);
    const queues = new PipelineQueues(redis, {
      prefix: `${prefix}:bull`,
      attempts: 3,
      backoffMs: 100,
    });
    cleanups.push(() => queues.close());

    const slack = await new FakeSlack({ teamId: TEAM }).start();
    cleanups.push(() => slack.stop());
    const applicationId = snowflake();
    const discord = await FakeDiscord.start({ token: DISCORD_TOKEN, applicationId });
    cleanups.push(() => discord.close());
    const openai = await FakeOpenAI.start();
    cleanups.push(() => openai.close());
    // A server that echoes the key it was sent (as OpenAI's 401 does) in an error.
    openai.script('consensus_statement', {
      kind: 'error',
      status: 500,
      message: `Incorrect API key provided: ${API_KEY}`,
    });

    const app: AppProcess = await launch(
      'src/app/start.ts',
      childEnv({
        // ioredis reads options from a socket path's query: the password travels in the URL,
        // which the process logs (redacted) when it starts.
        REDIS_URL: `${server.socketPath}?password=${REDIS_PASSWORD}`,
        REDIS_PREFIX: prefix,
        LOG_LEVEL: 'debug',
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_API_URL: slack.apiUrl,
        DISCORD_TOKEN,
        DISCORD_APPLICATION_ID: applicationId,
        DISCORD_API_URL: discord.apiUrl,
        OPENAI_BASE_URL: openai.baseURL,
        OPENAI_API_KEY: API_KEY,
        LLM_MAX_RETRIES: '0',
      }),
    );
    cleanups.push(() => kill(app, 'SIGKILL'));
    expect(app.running).toMatchObject({ slack: 'socket-mode', discord: 'on' });
    await slack.connected;

    let n = 0;
    let clock = 1_800_000_000;
    const command = (user: string, text: string) =>
      slack.envelope('slash_commands', {
        team_id: TEAM,
        channel_id: CHANNEL,
        user_id: user,
        command: '/consensus',
        text,
        api_app_id: 'A0001',
        response_url: `${slack.base}/respond/${++n}`,
        trigger_id: `trigger-${n}`,
      });
    const event = (inner: Record<string, unknown>) =>
      slack.envelope('events_api', {
        team_id: TEAM,
        api_app_id: 'A0001',
        type: 'event_callback',
        event_id: `Ev${++n}`,
        event_time: Math.floor(Date.now() / 1000),
        authorizations: [{ team_id: TEAM, user_id: slack.botUserId, is_bot: true }],
        event: inner,
      });

    await command('UMOD', 'start Should our team adopt a four-day week?');
    const question = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Question:'),
    );
    const questionTs = String(question.response?.ts);
    const round = await until(async () => {
      const [r] = await store.rounds.openInChannel(SCOPE, CHANNEL);
      return r?.questionRef ? r : null;
    });
    for (const [user, text] of Object.entries(OPINIONS)) {
      const at = `${++clock}.000100`;
      await event({
        type: 'message',
        channel: CHANNEL,
        user,
        text,
        ts: at,
        thread_ts: questionTs,
        parent_user_id: slack.botUserId,
        event_ts: at,
        channel_type: 'channel',
      });
    }
    await until(
      async () =>
        (await store.contributions.list(SCOPE, round.id, 'opinion', 0)).length ===
        Object.keys(OPINIONS).length,
    );
    await command('UMOD', 'close');
    const pollEmoji = await slack.waitFor((c) => c.method === 'reactions.add', 15_000);
    // The statement is recorded as posted once its publish job is done.
    await drained(queues, [SCOPE]);
    for (const user of Object.keys(OPINIONS)) {
      await event({
        type: 'reaction_added',
        user,
        reaction: '+1',
        item: { type: 'message', channel: CHANNEL, ts: String(pollEmoji.args.timestamp) },
        item_user: slack.botUserId,
        event_ts: `${++clock}.000100`,
      });
    }
    const poll = await until(() => store.polls.poll(SCOPE, round.id, 1));
    await until(async () => (await store.polls.ratings(SCOPE, poll)).length === 3);
    await command('UMOD', 'finish');
    await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Results:'),
      15_000,
    );
    expect(await kill(app, 'SIGTERM')).toBe(0);

    // Every secret was in use: a grep that finds nothing proves something only then.
    expect(slack.calls.some((c) => c.token === BOT_TOKEN)).toBe(true);
    expect(
      slack.calls.some((c) => c.method === 'apps.connections.open' && c.token === APP_TOKEN),
    ).toBe(true);
    expect(discord.requests.some((r) => r.authorized)).toBe(true);
    expect(openai.requests.some((r) => r.headers.authorization === `Bearer ${API_KEY}`)).toBe(true);

    const logs = app.output();
    expect(logs).toContain(round.id);
    expect(logs.split('\n').filter((l) => l.startsWith('{')).length).toBeGreaterThan(5);
    // The URL was logged, masked, and the echoed key reached a line, masked.
    expect(JSON.stringify(app.running.redis)).toContain('password=***');
    expect(logs).toMatch(/Incorrect API key provided: (\*\*\*|\[redacted\])/);
    for (const secret of [BOT_TOKEN, APP_TOKEN, DISCORD_TOKEN, API_KEY, REDIS_PASSWORD]) {
      expect(logs).not.toContain(secret);
      // Nor a recognisable part of one (a log that cut or quoted it).
      expect(logs).not.toContain(secret.slice(-12));
    }
  }, 45_000);
});
