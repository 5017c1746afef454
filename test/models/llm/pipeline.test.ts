import { afterEach, describe, expect, it } from 'vitest';
import type { WelfareName } from '../../../src/domain/welfare-name.js';
import type { CallPolicy } from '../../../src/models/llm/client.js';
import { LlmGenerator } from '../../../src/models/llm/generator.js';
import { LlmJudgeRewardModel } from '../../../src/models/llm/judge.js';
import {
  type ChatBody,
  chatJson,
  dataOf,
  FakeOpenAI,
  type FakeReply,
  statementsOf,
} from '../../fakes/openai.js';
import {
  CHANNEL,
  type Harness,
  MODERATOR,
  RecordingLog,
  SCOPE,
  startHarness,
  startRound,
} from '../../support/harness.js';
import { API_KEY, clientFor } from './support.js';

/** Six members who each wrote something different. */
const OPINIONS: Record<string, string> = {
  ana: 'A four-day week would cut burnout and help us keep good people.',
  ben: 'Customers call on Fridays; support must stay reachable every weekday.',
  cai: 'Try it for three months with a support rota, then decide.',
  dee: 'Four long days are as tiring as five normal ones.',
  eli: 'Flexible hours would help more than a fixed day off.',
  fay: 'Whatever we choose must be fair to part-time staff too.',
};
const MEMBER_IDS = Object.keys(OPINIONS);

/**
 * The fake judge's ratings (7-point) by statement: S1 delights five members and loses
 * the sixth (fay) completely, S2 is fine for everybody, the rest are middling. The mean
 * prefers S1 (5 x 1 + 0 = 0.83 vs 0.67); the minimum prefers S2 (0.67 vs 0).
 */
function agreement(statement: number, member: string): number {
  if (statement === 1) return member === 'fay' ? 1 : 7;
  if (statement === 2) return 5;
  return member === 'fay' ? 2 : 4;
}

function statementText(n: number): string {
  return `Statement S${n}: a plan the group can discuss.`;
}

function statementNumber(text: string): number {
  return Number(/^Statement S(\d+):/.exec(text)?.[1]);
}

function memberOf(body: ChatBody): string {
  const opinion = (dataOf(body).member as { opinion: string }).opinion;
  return MEMBER_IDS.find((id) => OPINIONS[id] === opinion) ?? '?';
}

/** Generation gets S1..SK in the order the requests arrive; the judge rates from the table. */
function scriptedModels(fake: FakeOpenAI, judge: (body: ChatBody) => FakeReply = tableJudge) {
  let written = 0;
  fake.onChat = (body) => {
    if (body.response_format?.json_schema?.name === 'consensus_statement') {
      return chatJson({ statement: statementText(++written) });
    }
    return judge(body);
  };
}

function tableJudge(body: ChatBody): FakeReply {
  const member = memberOf(body);
  const ratings = Object.fromEntries(
    Object.entries(statementsOf(body)).map(([letter, text]) => [
      letter,
      agreement(statementNumber(text), member),
    ]),
  );
  return chatJson({ ratings });
}

describe('a round on the model path (real openai client, fake server, Redis, BullMQ)', () => {
  let h: Harness | undefined;
  let fake: FakeOpenAI | undefined;
  afterEach(async () => {
    await h?.stop();
    await fake?.close();
    h = undefined;
    fake = undefined;
  });

  async function setUp(
    options: { policy?: Partial<CallPolicy>; attempts?: number; promptBudgetTokens?: number } = {},
  ) {
    fake = await FakeOpenAI.start();
    const modelLog = new RecordingLog();
    const { client } = clientFor(fake, options.policy ?? {});
    const generator = new LlmGenerator({
      client,
      model: 'gen',
      log: modelLog,
      ...(options.promptBudgetTokens ? { promptBudgetTokens: options.promptBudgetTokens } : {}),
    });
    const rewardModel = new LlmJudgeRewardModel({ client, model: 'judge', log: modelLog });
    h = await startHarness({ generator, rewardModel, attempts: options.attempts ?? 2 });
    return { fake, h, modelLog };
  }

  async function openRound(harness: Harness, settings: object = {}, question?: string) {
    const { round, thread } = await startRound(harness, question, { candidates: 8, ...settings });
    let at = 1;
    for (const [id, text] of Object.entries(OPINIONS)) {
      await harness.runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: thread.messageId,
        messageId: `m-${id}`,
        userId: id,
        text,
        at: at++,
      });
    }
    await harness.runtime.service.close({ scope: SCOPE, channelId: CHANNEL }, MODERATOR);
    return round;
  }

  it.each<[WelfareName, number]>([
    ['utilitarian', 1],
    ['egalitarian', 2],
  ])(
    '6 members, K = 8: 8 generation calls, 6 judge calls, and the %s winner S%i is posted',
    async (welfare, winner) => {
      const { fake, h } = await setUp();
      scriptedModels(fake);
      const round = await openRound(h, { welfare });
      const posted = await h.platform.waitFor('statement', round.id);

      expect(fake.chatBodies('consensus_statement')).toHaveLength(8);
      expect(fake.chatBodies('approval_ratings')).toHaveLength(6);
      expect(fake.requests).toHaveLength(14);

      const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
      expect(poll?.statement).toBe(statementText(winner));
      expect(posted.text).toContain(`Statement S${winner}:`);
      for (const id of MEMBER_IDS) {
        expect(poll?.predicted[id]).toBeCloseTo((agreement(winner, id) - 1) / 6, 12);
      }

      const status = await h.runtime.service.status({
        scope: SCOPE,
        channelId: CHANNEL,
        roundId: round.id,
      });
      expect(status.usage.generate?.calls).toBe(8);
      expect(status.usage.score?.calls).toBe(6);
      expect(status.usage.generate?.promptTokens).toBeGreaterThan(0);
      expect(status.usage.score?.completionTokens).toBeGreaterThan(0);
      const results = await h.runtime.service.results({
        scope: SCOPE,
        channelId: CHANNEL,
        roundId: round.id,
      });
      expect(results.usage).toEqual(status.usage);
      expect(results.model).toBe('llm judge (judge)');
    },
  );

  it('rides out a 429 storm without spending an attempt, paying again only for what failed', async () => {
    // One attempt per job: had a 429 cost an attempt, the round would fail.
    const { fake, h } = await setUp({ attempts: 1 });
    scriptedModels(fake);
    fake.script(
      'consensus_statement',
      ...Array.from({ length: 20 }, (): FakeReply => ({ kind: 'rate-limit', retryAfterMs: 40 })),
    );
    const round = await openRound(h);
    await h.platform.waitFor('statement', round.id);

    const puts = h.log.lines.filter(
      (l) => l.message === 'model server rate limited; job put back without spending an attempt',
    );
    expect(puts.length).toBeGreaterThanOrEqual(1);
    // 20 refusals plus exactly 8 statements: no statement was bought twice.
    expect(fake.chatBodies('consensus_statement')).toHaveLength(28);
    const usage = await h.runtime.store.usage.byStage(SCOPE, round.id);
    expect(usage.generate?.calls).toBe(28);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).attempt).toBe(1);
  });

  it('keeps putting back a job a server asks for very short waits, past 50 tries, and completes', async () => {
    const { fake, h } = await setUp({ attempts: 1 });
    scriptedModels(fake);
    // 10 ms waits: 50 tries were once the limit, reached in about a second; many more
    // refusals than tries, since a try's other samples are refused too.
    fake.script(
      'consensus_statement',
      ...Array.from({ length: 400 }, (): FakeReply => ({ kind: 'rate-limit', retryAfterMs: 10 })),
    );
    const round = await openRound(h);
    await h.platform.waitFor('statement', round.id, 60_000);
    const puts = h.log.lines.filter(
      (l) => l.message === 'model server rate limited; job put back without spending an attempt',
    );
    expect(puts.length).toBeGreaterThan(50);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('polling');
  }, 90_000);

  it('leaves out members whose judge call failed and goes on while a majority remains', async () => {
    const { fake, h, modelLog } = await setUp({ policy: { maxRetries: 1 } });
    scriptedModels(fake, (body) =>
      ['dee', 'eli'].includes(memberOf(body)) ? { kind: 'error', status: 500 } : tableJudge(body),
    );
    const round = await openRound(h, { welfare: 'egalitarian' });
    await h.platform.waitFor('statement', round.id);
    const poll = await h.runtime.store.polls.poll(SCOPE, round.id, 1);
    expect(poll?.predicted.dee).toBeNull();
    expect(poll?.predicted.eli).toBeNull();
    expect(poll?.predicted.ana).toBeCloseTo(4 / 6, 12);
    expect(poll?.statement).toBe(statementText(2));
    expect(
      modelLog.lines.filter((l) => l.message === 'judge call failed; member not predicted'),
    ).toHaveLength(2);
  });

  it('fails the run with a clear reason when no majority can be predicted', async () => {
    const { fake, h } = await setUp({ policy: { maxRetries: 0 }, attempts: 1 });
    scriptedModels(fake, (body) =>
      ['dee', 'eli', 'fay'].includes(memberOf(body))
        ? { kind: 'error', status: 502 }
        : tableJudge(body),
    );
    const round = await openRound(h);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(
      /could not be produced: approval could be predicted for only 3 of 6 members; choosing a statement for the group needs a majority/,
    );
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).phase).toBe('failed');
  });

  it('says so once when no sample survives, without trying them all again, and a close retries the round', async () => {
    // Three job attempts: no further attempt pays for the 8 samples again.
    const { fake, h } = await setUp({ policy: { maxRetries: 1 }, attempts: 3 });
    fake.onChat = (body) =>
      body.response_format?.json_schema?.name === 'consensus_statement'
        ? { kind: 'chat', content: 'I cannot answer in JSON, sorry.' }
        : tableJudge(body);
    const round = await openRound(h);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(
      /could not be produced: none of the 8 samples gave a usable statement \(the output is not JSON x8\)\. A moderator can retry with `close`/,
    );
    expect(fake.chatBodies('consensus_statement')).toHaveLength(16);
    expect(h.platform.posted.filter((m) => m.kind === 'notice')).toHaveLength(1);

    scriptedModels(fake);
    await h.runtime.service.close(
      { scope: SCOPE, channelId: CHANNEL, roundId: round.id },
      MODERATOR,
    );
    await h.platform.waitFor('statement', round.id);
    expect((await h.runtime.store.rounds.require(SCOPE, round.id)).attempt).toBe(2);
  });

  it('stops at the round token budget with a clear message instead of overspending', async () => {
    const { fake, h } = await setUp({ policy: { roundTokenBudget: 300 } });
    scriptedModels(fake);
    const round = await openRound(h);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(
      /token budget \(300 tokens, LLM_ROUND_TOKEN_BUDGET\) cannot cover another model call; generation stopped rather than overspend/,
    );
    expect(fake.requests).toHaveLength(0);
    const failed = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.phase).toBe('failed');
    // Unrecoverable: the job was not retried.
    const jobs = await h.runtime.queues.generate.getJobs(['failed']);
    expect(jobs.map((j) => j.attemptsMade)).toEqual([1]);
  });

  it('fails at once with a clear message when no generation prompt fits LLM_PROMPT_BUDGET_TOKENS', async () => {
    // 500 is the lowest budget the setting takes; with a question of the longest kind the
    // six opinions do not fit verbatim, and the summary prompt's instructions do not either.
    const { fake, h } = await setUp({ promptBudgetTokens: 500 });
    scriptedModels(fake);
    const question = 'Which of these four-day-week plans should our team adopt, and why? '.repeat(
      7,
    );
    const round = await openRound(h, {}, question.slice(0, 480));
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(
      /exceeds the prompt budget \(500 tokens, LLM_PROMPT_BUDGET_TOKENS\); generation stopped rather than overrun it/,
    );
    expect(fake.requests).toHaveLength(0);
    const failed = await h.runtime.store.rounds.require(SCOPE, round.id);
    expect(failed.phase).toBe('failed');
    // Unrecoverable: the same prompt would be built again.
    const jobs = await h.runtime.queues.generate.getJobs(['failed']);
    expect(jobs.map((j) => j.attemptsMade)).toEqual([1]);
  });

  it('fails at once on a rejected key, and the key reaches no log and no message', async () => {
    const { fake, h, modelLog } = await setUp({ policy: { maxRetries: 3 }, attempts: 3 });
    fake.onChat = () => ({
      kind: 'error',
      status: 401,
      message: `Incorrect API key provided: ${API_KEY}.`,
    });
    const round = await openRound(h);
    const notice = await h.platform.waitFor('notice', round.id);
    expect(notice.text).toMatch(/the model server refused the request \(401/);
    const everything = JSON.stringify([h.output, h.log.lines, modelLog.lines, notice]);
    expect(everything).not.toContain(API_KEY);
    expect(everything).not.toContain('0123456789abcdef');
    expect((await h.runtime.queues.generate.getJobs(['failed']))[0]?.attemptsMade).toBe(1);
  });
});
