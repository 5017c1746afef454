import { describe, expect, it } from 'vitest';
import { pollOptions } from '../../../src/domain/poll-scale.js';
import { concealed, pollResults } from '../../../src/domain/results.js';
import { emojiFor, optionKeyFor } from '../../../src/platforms/discord/emoji.js';
import { redact } from '../../../src/platforms/discord/errors.js';
import {
  critiqueInviteText,
  questionEmbed,
  resultsEmbed,
  splitContent,
  statementEmbed,
  threadName,
} from '../../../src/platforms/discord/render.js';
import { ReplayGuard } from '../../../src/platforms/discord/replay-guard.js';
import { statementMessage } from '../../../src/platforms/slack/blocks.js';

describe('Discord reactions map onto poll options', () => {
  it('reads skin tones, gendered variants and keycaps without the variation selector', () => {
    expect(optionKeyFor('👍', null)).toBe('agree');
    expect(optionKeyFor('👍🏽', null)).toBe('agree');
    expect(optionKeyFor('🤷‍♀️', null)).toBe('unsure');
    expect(optionKeyFor('👎🏿', null)).toBe('disagree');
    expect(optionKeyFor('7️⃣', null)).toBe('7');
    expect(optionKeyFor('3\u20e3', null)).toBe('3');
    expect(optionKeyFor('8️⃣', null)).toBeNull();
    expect(optionKeyFor('❤️', null)).toBeNull();
    // A custom server emoji named like a poll reaction is not one.
    expect(optionKeyFor('👍', '123456789012345678')).toBeNull();
    for (const option of [...pollOptions('approval3'), ...pollOptions('likert7')]) {
      expect(optionKeyFor(emojiFor(option.key), null)).toBe(option.key);
    }
  });
});

describe('Discord embeds stay inside Discord limits', () => {
  const header = { roundId: 'r1', channelId: 'c', question: 'Q?'.repeat(200), thread: null };

  it('fits a very long statement with many members into one statement embed', () => {
    const embed = statementEmbed({
      ...header,
      version: 2,
      anonymous: false,
      buttons: false,
      statement: 'word '.repeat(2_000),
      options: pollOptions('approval3'),
      method: 'Chosen by egalitarian welfare. '.repeat(60),
      predicted: Array.from({ length: 300 }, (_, i) => ({
        participantId: String(1_000_000_000_000_000 + i),
        approval: 1 - i / 300,
      })),
      considered: [],
      model: 'lexical',
      notes: ['a note '.repeat(400)],
    });
    const fields = embed.fields ?? [];
    const total =
      (embed.title?.length ?? 0) +
      (embed.description?.length ?? 0) +
      (embed.footer?.text.length ?? 0) +
      fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(6_000);
    expect(embed.description?.length).toBeLessThanOrEqual(4_096);
    expect(fields.every((f) => f.value.length <= 1_024 && f.name.length <= 256)).toBe(true);
    expect(fields.find((f) => f.name === 'Predicted approval')?.value).toMatch(/… 288 more …/);
  });

  it('keeps thread names to 100 characters and results within 25 fields and 6,000 characters', () => {
    expect([...threadName('x'.repeat(300))]).toHaveLength(100);
    const embed = resultsEmbed({
      ...header,
      phase: 'closed',
      hidden: false,
      anonymous: false,
      model: 'lexical',
      participants: 3,
      usage: {},
      critiquedWithoutOpinion: [],
      unusedCritiques: 0,
      exclusion: { truncated: [], summarisedVersions: [] },
      versions: Array.from({ length: 30 }, (_, i) => ({
        version: i + 1,
        statement: 's',
        results: {
          scale: 'approval3',
          welfare: 'egalitarian',
          welfareFunction: 'egalitarian',
          welfareNote: null,
          ratingCount: 0,
          distribution: pollOptions('approval3').map((o) => ({ ...o, count: 0 })),
          meanApproval: null,
          welfareValue: null,
          leastServed: null,
          predictedLeastServed: null,
          predictedCount: 0,
          meanPredictedApproval: null,
          comparedCount: 0,
          meanAbsoluteError: null,
        },
        endorsement: null,
      })),
    });
    // Within 25 fields and Discord's 6,000 characters an embed: the latest versions, said so.
    const fields = embed.fields ?? [];
    expect(fields.length).toBeLessThanOrEqual(25);
    const total =
      (embed.title?.length ?? 0) +
      (embed.description?.length ?? 0) +
      (embed.footer?.text.length ?? 0) +
      fields.reduce((n, f) => n + f.name.length + f.value.length, 0);
    expect(total).toBeLessThanOrEqual(6000);
    expect(fields.at(-1)?.name).toBe('Version 30');
    expect(embed.description).toContain(
      `Showing the latest ${fields.length} of 30 versions; \`/consensus export\` has them all.`,
    );
  });
});

describe('the Discord statement post says how it was chosen as Slack does', () => {
  const view = {
    roundId: 'r1',
    channelId: 'c',
    question: 'Q?',
    thread: null,
    version: 1,
    anonymous: false,
    buttons: false,
    statement: 'We try four days for three months.',
    options: pollOptions('approval3'),
    method:
      'Chosen from 8 candidates by egalitarian welfare (the least-served member’s predicted approval).',
    predicted: [
      { participantId: '111', approval: 0.88 },
      { participantId: '222', approval: 1 / 3 },
      { participantId: '333', approval: 1 / 3 },
    ],
    considered: [],
    model: 'lexical-tfidf',
    notes: [],
  };
  const field = (embed: ReturnType<typeof statementEmbed>, name: string) =>
    embed.fields?.find((f) => f.name === name)?.value;

  it('once, naming every member tied at the lowest prediction', () => {
    const how = field(statementEmbed(view), 'How it was chosen') ?? '';
    expect(how.match(/Chosen from 8 candidates/g)).toHaveLength(1);
    expect(how).toContain('Least served: <@222>, <@333> (33%).');
  });

  it('says when the poll closes, where members rate, on Discord and on Slack', () => {
    const closing = { ...view, pollCloses: 'The poll closes 2 hours after this post.' };
    expect(field(statementEmbed(closing), 'Rate it')).toContain(
      'The poll closes 2 hours after this post.',
    );
    expect(JSON.stringify(statementMessage(closing).blocks)).toContain(
      'your latest reaction is your rating. The poll closes 2 hours after this post.',
    );
    expect(field(statementEmbed(view), 'Rate it')).not.toContain('The poll closes');
  });

  it('in an anonymous round, leaves the withheld predictions out rather than saying there are none', () => {
    const embed = statementEmbed({ ...view, anonymous: true, predicted: [] });
    expect(field(embed, 'Predicted approval')).toBeUndefined();
    expect(field(embed, 'How it was chosen')).not.toMatch(/Least served/);
  });
});

describe('members’ masked links are not posted as the bot’s links', () => {
  // Two links on one line: discord.js's escapeMaskedLink would escape only the first.
  const spoof =
    'See [discord.com/safety](https://evil.example/a) or [help](https://evil.example/b).';
  const live = /\[[^\]]*\]\(https:\/\/evil/;
  const header = { roundId: 'r1', channelId: 'c', question: spoof, thread: null };

  it('in the question and in the statement, wherever they are shown', () => {
    const question = questionEmbed({
      ...header,
      createdBy: null,
      deadline: null,
      candidates: 4,
      welfare: 'egalitarian',
      scale: 'approval3',
    });
    const statement = statementEmbed({
      ...header,
      version: 1,
      anonymous: false,
      buttons: false,
      statement: spoof,
      options: pollOptions('approval3'),
      method: 'Chosen by egalitarian welfare.',
      predicted: [],
      considered: [],
      model: 'lexical',
      notes: [],
    });
    const invite = critiqueInviteText({ ...header, version: 1, statement: spoof, deadline: null });
    const shown = [
      question.description,
      statement.description,
      ...(statement.fields ?? []).map((f) => f.value),
      invite,
    ].join('\n');
    expect(shown).not.toMatch(live);
    // Still readable as typed: only the link's parenthesis is escaped.
    expect(invite).toContain('[help]\\(https://evil.example/b)');
  });
});

describe('a long message in pieces Discord takes', () => {
  it('cuts between mentions, never through one, and loses no text', () => {
    // A reminder naming 300 members: 2,000 units a message, mentions of 22 units each.
    const ids = Array.from({ length: 300 }, (_, i) => String(100_000_000_000_000_000n + BigInt(i)));
    const text = `Reminder, still to rate: ${ids.map((id) => `<@${id}>`).join(' ')}`;
    const pieces = splitContent(text, 2_000);
    expect(pieces.length).toBeGreaterThan(1);
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(2_000);
      // Every "<@" is closed in its own piece.
      expect(piece.match(/<@/g)?.length ?? 0).toBe(piece.match(/<@\d+>/g)?.length ?? 0);
    }
    expect(pieces.join(' ')).toBe(text);
  });
});

describe('Discord results say how many members were predicted and how many rated', () => {
  const results = pollResults({
    scale: 'approval3',
    ratings: [
      { participantId: '1200000000000000001', optionKey: 'agree', approval: 1, at: 1 },
      { participantId: '1200000000000000002', optionKey: 'disagree', approval: 0, at: 2 },
    ],
    predicted: {
      '1200000000000000001': 0.9,
      '1200000000000000002': 0.4,
      '1200000000000000003': 0.6,
      '1200000000000000004': 0.2,
    },
    welfare: 'egalitarian',
  });
  const view = (anonymous: boolean, hidden: boolean) =>
    resultsEmbed({
      roundId: 'r1',
      channelId: 'c',
      question: 'Q?',
      thread: null,
      phase: hidden ? 'polling' : 'closed',
      hidden,
      anonymous,
      model: 'lexical',
      participants: 4,
      usage: {},
      critiquedWithoutOpinion: [],
      unusedCritiques: 0,
      exclusion: { truncated: [], summarisedVersions: [] },
      versions: [
        {
          version: 1,
          statement: 's',
          results: hidden ? concealed(results) : results,
          endorsement: null,
        },
        {
          version: 2,
          statement: 't',
          results: { ...results, predictedCount: 1, ratingCount: 0 },
          endorsement: null,
        },
      ],
    });

  it('per version, in every kind of round, by count and never by name when anonymous', () => {
    for (const [anonymous, hidden] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      const embed = view(anonymous, hidden);
      expect(embed.fields?.[0]?.value).toContain('Approval predicted for 4 members, rated by 2.');
      if (!hidden) {
        // Two of the four who gave opinions rated: never "2 ratings from 4 members".
        expect(embed.fields?.[0]?.value).toContain('2 ratings (4 members gave opinions)');
        expect(embed.fields?.[0]?.value).not.toMatch(/ratings? from/);
      }
      expect(embed.fields?.[1]?.value).toContain('Approval predicted for 1 member, rated by 0.');
    }
    // Anonymous views come with blanked ids (the service's job); nothing here adds any.
    const anonymous = view(true, false);
    anonymous.fields?.forEach((f) => {
      expect(f.value).not.toMatch(/<@/);
    });
  });
});

describe('Discord error details reach logs without secrets', () => {
  it('masks interaction and webhook tokens in paths, and anything shaped like a bot token', () => {
    expect(redact('PATCH /api/v10/webhooks/123/aW50ZXJhY3Rpb246MTIz/messages/@original')).toBe(
      'PATCH /api/v10/webhooks/123/***/messages/@original',
    );
    expect(redact('/interactions/9/itok_abc/callback')).toBe('/interactions/9/***/callback');
    expect(
      redact('token MTA5ODc2NTQzMjEwOTg3NjU0.GfAkEt.abcdefghijklmnopqrstuvwxyz01 leaked'),
    ).toBe('token *** leaked');
  });
});

describe('the replay guard', () => {
  const packet = (t: string, s: number, d: object) => ({ op: 0, t, s, d });

  it('marks a dispatch at or below the highest sequence of the session as a replay, in the same tick only', async () => {
    const guard = new ReplayGuard();
    guard.observe(packet('READY', 1, { session_id: 'a' }), 0);
    guard.observe(packet('MESSAGE_CREATE', 2, { id: 'm1' }), 0);
    expect(guard.isReplay('MESSAGE_CREATE:m1')).toBe(false);
    guard.observe(packet('MESSAGE_CREATE', 2, { id: 'm1' }), 0);
    expect(guard.isReplay('MESSAGE_CREATE:m1')).toBe(true);
    await Promise.resolve();
    expect(guard.isReplay('MESSAGE_CREATE:m1')).toBe(false);
    const reaction = {
      message_id: 'm1',
      user_id: 'u1',
      emoji: { id: null, name: '👍' },
    };
    guard.observe(packet('MESSAGE_REACTION_ADD', 3, reaction), 0);
    guard.observe(packet('MESSAGE_REACTION_ADD', 3, reaction), 0);
    expect(guard.isReplay('MESSAGE_REACTION_ADD:m1:u1:👍')).toBe(true);
    // Another shard has its own sequence; a new session (READY) starts over.
    guard.observe(packet('MESSAGE_CREATE', 2, { id: 'm9' }), 1);
    expect(guard.isReplay('MESSAGE_CREATE:m9')).toBe(false);
    guard.observe(packet('READY', 1, { session_id: 'b' }), 0);
    guard.observe(packet('MESSAGE_CREATE', 2, { id: 'm2' }), 0);
    expect(guard.isReplay('MESSAGE_CREATE:m2')).toBe(false);
  });
});
