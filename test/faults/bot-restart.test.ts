import { afterEach, describe, expect, it } from 'vitest';
import type { Scope } from '../../src/domain/scope.js';
import { PipelineQueues } from '../../src/pipeline/queues.js';
import { createStore } from '../../src/store/store.js';
import { FakeOpenAI } from '../fakes/openai.js';
import { FakeSlack, postSigned } from '../fakes/slack.js';
import { until } from '../support/harness.js';
import { deletePrefix, testRedis } from '../support/redis.js';
import { type AppProcess, childEnv, drained, kill, launch } from './support.js';

// Fake secrets, distinctive enough that any trace of them in a log is found.
const BOT_TOKEN = 'xoxb-fault-7d1e0c94b2a84f3e';
const SIGNING_SECRET = 'sigsecret-5a0f9c3e1b7d4e62';
const API_KEY = 'sk-fault-91c2e5d8a4f0b7e3';
const TEAM = 'T0F4ULT';
const CHANNEL = 'C0F4ULT';
const SCOPE: Scope = { platform: 'slack', workspaceId: TEAM };
const OPINIONS: Record<string, string> = {
  U001: 'Yes. A four-day week would reduce burnout and help us focus on the work that matters most.',
  U002: 'No. Our customers expect us five days a week, and support would suffer without Friday cover.',
  U003: 'Only with a rota that keeps Friday support covered, and as a three-month trial first.',
  U004: 'I worry that cramming five days of work into four longer days is not a real gain for anyone.',
};

describe('the bot process restarted mid-round (real `npm start` processes, fake Slack and model server)', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });

  it('continues the round across a SIGTERM and a SIGKILL, counts the poll, and logs no secret', async () => {
    const slack = await new FakeSlack({ teamId: TEAM }).start();
    cleanups.push(() => slack.stop());
    const openai = await FakeOpenAI.start();
    cleanups.push(() => openai.close());
    const env = testRedis();
    const redis = env.connect();
    const store = createStore(redis, env.prefix);
    const queues = new PipelineQueues(redis, {
      prefix: `${env.prefix}:bull`,
      attempts: 3,
      backoffMs: 100,
    });
    cleanups.push(async () => {
      await queues.close();
      await deletePrefix(redis, env.prefix);
      await redis.quit();
    });

    const appEnv = childEnv({
      REDIS_URL: env.url,
      REDIS_PREFIX: env.prefix,
      LOG_LEVEL: 'debug',
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      OPENAI_BASE_URL: openai.baseURL,
      OPENAI_API_KEY: API_KEY,
      WORKER_STALL_INTERVAL_MS: '2000',
      LIMIT_STARTS_PER_MEMBER_PER_HOUR: '1',
      // One try per sample: the error below then drops a sample, which is logged.
      LLM_MAX_RETRIES: '0',
    });
    // Servers echo a bad key in their error ("Incorrect API key provided: sk-…"): the
    // message travels into a log line and the statement's notes, so it must be masked.
    openai.script('consensus_statement', {
      kind: 'error',
      status: 500,
      message: `Incorrect API key provided: ${API_KEY}`,
    });
    const apps: AppProcess[] = [];
    cleanups.push(() => Promise.all(apps.map((a) => kill(a, 'SIGKILL'))));
    const start = async () => {
      const app = await launch('src/app/start.ts', appEnv);
      apps.push(app);
      expect(app.running.slack).toMatch(/^http:\d+$/);
      return app;
    };

    let n = 0;
    let clock = 1_800_000_000;
    const ts = () => `${++clock}.000100`;
    const send = (app: AppProcess, body: string, type: string) =>
      postSigned(`http://127.0.0.1:${app.running.health}/slack/events`, body, type, {
        secret: SIGNING_SECRET,
      }).then((r) => expect(r.status).toBe(200));
    const command = (app: AppProcess, user: string, text: string) => {
      const fields = {
        team_id: TEAM,
        channel_id: CHANNEL,
        user_id: user,
        command: '/consensus',
        text,
        api_app_id: 'A0001',
        response_url: `${slack.base}/respond/${++n}`,
        trigger_id: `trigger-${n}`,
      };
      return send(app, new URLSearchParams(fields).toString(), 'application/x-www-form-urlencoded');
    };
    const event = (app: AppProcess, inner: Record<string, unknown>) =>
      send(
        app,
        JSON.stringify({
          team_id: TEAM,
          api_app_id: 'A0001',
          type: 'event_callback',
          event_id: `Ev${++n}`,
          event_time: Math.floor(Date.now() / 1000),
          authorizations: [{ team_id: TEAM, user_id: slack.botUserId, is_bot: true }],
          event: inner,
        }),
        'application/json',
      );
    const reply = (app: AppProcess, user: string, threadTs: string) => {
      const at = ts();
      return event(app, {
        type: 'message',
        channel: CHANNEL,
        user,
        text: OPINIONS[user],
        ts: at,
        thread_ts: threadTs,
        parent_user_id: slack.botUserId,
        event_ts: at,
        channel_type: 'channel',
      });
    };
    const opinionCount = async (roundId: string) =>
      (await store.contributions.list(SCOPE, roundId, 'opinion', 0)).length;
    const posts = () => slack.ok('chat.postMessage').map((c) => String(c.args.text));

    // ---- first process: the question and two opinions -------------------------------------
    const first = await start();
    await command(first, 'UMOD', 'start Should our team adopt a four-day week?');
    const question = await slack.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('Question:'),
    );
    const questionTs = String(question.response?.ts);
    const round = await until(async () => {
      const [r] = await store.rounds.openInChannel(SCOPE, CHANNEL);
      return r?.questionRef ? r : null;
    });
    // A second start within the hour is refused, only to that member.
    await command(first, 'UMOD', 'start And a second question?');
    const refusal = await slack.waitFor(
      (c) => c.method === 'respond' && /in the past hour/.test(String(c.args.text)),
    );
    expect(refusal.args).toMatchObject({
      response_type: 'ephemeral',
      text: expect.stringMatching(
        /^You have started 1 round in the past hour, the most allowed; try again in \d+ (minute|second)s?\.$/,
      ),
    });
    await reply(first, 'U001', questionTs);
    await reply(first, 'U002', questionTs);
    await until(async () => (await opinionCount(round.id)) === 2);
    expect(await kill(first, 'SIGTERM')).toBe(0);

    // ---- second process: more opinions, close, the statement; then it crashes ----------
    const second = await start();
    await reply(second, 'U003', questionTs);
    await reply(second, 'U004', questionTs);
    await until(async () => (await opinionCount(round.id)) === 4);
    await command(second, 'UMOD', 'close');
    const pollEmoji = await slack.waitFor((c) => c.method === 'reactions.add', 15_000);
    const statementTs = String(pollEmoji.args.timestamp);
    await drained(queues, [SCOPE]);
    expect(await kill(second, 'SIGKILL')).toBe('SIGKILL');

    // ---- third process: the poll still counts, and finish posts the results -------------
    const third = await start();
    const votes: Record<string, string> = { U001: '+1', U002: '-1', U003: 'shrug', U004: '+1' };
    for (const [user, reaction] of Object.entries(votes)) {
      await event(third, {
        type: 'reaction_added',
        user,
        reaction,
        item: { type: 'message', channel: CHANNEL, ts: statementTs },
        item_user: slack.botUserId,
        event_ts: ts(),
      });
    }
    const poll = await until(() => store.polls.poll(SCOPE, round.id, 1));
    await until(async () => (await store.polls.ratings(SCOPE, poll)).length === 4);
    await command(third, 'UMOD', 'finish');
    await until(async () => (await store.rounds.require(SCOPE, round.id)).phase === 'closed');
    await drained(queues, [SCOPE]);
    expect(await kill(third, 'SIGTERM')).toBe(0);

    // Each message once, across three processes.
    const texts = posts();
    expect(texts.filter((t) => t.startsWith('Question:'))).toHaveLength(1);
    expect(slack.calls.filter((c) => c.method === 'reactions.add')).toHaveLength(3);
    expect(texts.filter((t) => t.startsWith('Proposed statement:'))).toHaveLength(1);
    expect(texts.filter((t) => t.startsWith('Results: 4 ratings'))).toHaveLength(1);
    expect(new Set(texts).size).toBe(texts.length);

    // ---- the logs of the whole round hold no secret ------------------------------------
    const logs = apps.map((a) => a.output()).join('\n');
    expect(logs).toContain(round.id);
    expect(logs.split('\n').filter((l) => l.startsWith('{')).length).toBeGreaterThan(10);
    // The secrets were in use: a grep that finds nothing proves something only then.
    expect(slack.calls.some((c) => c.token === BOT_TOKEN)).toBe(true);
    expect(openai.requests.some((r) => r.headers.authorization === `Bearer ${API_KEY}`)).toBe(true);
    // The echoed key reached a log line, masked: without the masking the grep below fails.
    expect(logs).toMatch(/Incorrect API key provided: \*\*\*/);
    // What members see (the Web API's own token field aside).
    const posted = JSON.stringify(slack.calls.map((c) => [c.args.text, c.args.blocks]));
    for (const secret of [BOT_TOKEN, SIGNING_SECRET, API_KEY]) {
      expect(logs).not.toContain(secret);
      // Nor a recognisable part of one (a log that cut or quoted it).
      expect(logs).not.toContain(secret.slice(-12));
      expect(posted).not.toContain(secret);
    }
  }, 45_000);
});
