import { describe, expect, it } from 'vitest';
import { type ResultsView, ratedNote, type StatusView } from '../../src/deliberation/views.js';
import { concealed, endorsement, pollResults } from '../../src/domain/results.js';
import { renderResults } from '../../src/platforms/console/render.js';
import {
  critiqueInviteText,
  resultsEmbed,
  statusEmbed,
} from '../../src/platforms/discord/render.js';
import {
  critiqueInviteMessage,
  resultsBlocks,
  resultsMessage,
  statusText,
} from '../../src/platforms/slack/blocks.js';

/** The same results, rendered by every adapter: a hidden round and a turnout verdict. */
const results = pollResults({
  scale: 'approval3',
  ratings: [
    { participantId: 'U_ANA', optionKey: 'agree', approval: 1, at: 1 },
    { participantId: 'U_BEN', optionKey: 'disagree', approval: 0, at: 2 },
  ],
  predicted: { U_ANA: 0.8, U_BEN: 0.3 },
  welfare: 'utilitarian',
});

function view(
  hidden: boolean,
  minTurnout: number,
  exclusion: ResultsView['exclusion'] = { truncated: [], summarisedVersions: [] },
): ResultsView {
  return {
    roundId: 'r1',
    channelId: 'C1',
    question: 'Q?',
    thread: null,
    phase: hidden ? 'polling' : 'closed',
    hidden,
    anonymous: false,
    versions: [
      {
        version: 1,
        statement: 'We try it for three months.',
        results: hidden ? concealed(results) : results,
        endorsement: hidden ? null : endorsement(results, minTurnout),
      },
    ],
    model: 'lexical',
    participants: 2,
    critiquedWithoutOpinion: [],
    unusedCritiques: 0,
    usage: {},
    exclusion,
  };
}

const everyRendering = (v: ResultsView) => [
  JSON.stringify(resultsBlocks(v)),
  resultsMessage(v).text,
  JSON.stringify(resultsEmbed(v)),
  renderResults(v, (id) => id),
];

describe('results in every adapter', () => {
  it('sums up every version in the text, so an unrated revision does not hide the first poll', () => {
    const unrated = pollResults({
      scale: 'approval3',
      ratings: [],
      predicted: {},
      welfare: 'utilitarian',
    });
    const two: ResultsView = {
      ...view(false, 0),
      versions: [
        ...view(false, 0).versions,
        { version: 2, statement: 'Revised.', results: unrated, endorsement: null },
      ],
    };
    expect(resultsMessage(two).text).toBe(
      'Results: version 1: 2 ratings, mean approval 50%; version 2: no ratings.',
    );
    const single = pollResults({
      scale: 'approval3',
      ratings: [{ participantId: 'U_ANA', optionKey: 'agree', approval: 1, at: 1 }],
      predicted: {},
      welfare: 'utilitarian',
    });
    const one = { ...view(false, 0), versions: [{ ...two.versions[0]!, results: single }] };
    expect(resultsMessage(one).text).toBe('Results: 1 rating, mean approval 100%');
  });

  it('shows model calls with prompt and completion tokens apart, and nothing for an offline model', () => {
    const used: ResultsView = {
      ...view(false, 0),
      usage: {
        generate: { calls: 8, promptTokens: 11_104, completionTokens: 1_822 },
        score: { calls: 1, promptTokens: 900, completionTokens: 40 },
      },
    };
    // Not in the one-line text: the blocks, the embed and the console carry it; so does status.
    const status: StatusView = {
      roundId: 'r1',
      channelId: 'C1',
      question: 'Q?',
      thread: null,
      phase: 'polling',
      phaseText: 'polling members on the statement',
      opinions: 2,
      critiques: 0,
      version: 1,
      ratings: 2,
      deadline: null,
      failureReason: null,
      usage: used.usage,
    };
    const renderings = [
      ...everyRendering(used).filter((_, i) => i !== 1),
      statusText(status),
      JSON.stringify(statusEmbed(status)),
    ];
    for (const text of renderings) {
      expect(text).toContain('generate: 8 calls, 11,104 prompt + 1,822 completion tokens');
      expect(text).toContain('score: 1 call, 900 prompt + 40 completion tokens');
      // Issue 3: per round as well as per stage.
      expect(text).toContain('round total: 9 calls, 12,004 prompt + 1,862 completion tokens');
    }
    // One stage is its own total: no second line saying the same.
    const generateOnly = { ...used, usage: { generate: used.usage.generate! } };
    expect(JSON.stringify(resultsBlocks(generateOnly))).not.toContain('round total');
    for (const text of [
      JSON.stringify(resultsBlocks(view(false, 0))),
      JSON.stringify(resultsEmbed(view(false, 0))),
    ]) {
      expect(text).not.toMatch(/completion tokens/);
    }
  });

  it('counts one rating, one member and one critique in the singular', () => {
    const single = pollResults({
      scale: 'approval3',
      ratings: [{ participantId: 'U_ANA', optionKey: 'agree', approval: 1, at: 1 }],
      predicted: { U_ANA: 0.8 },
      welfare: 'utilitarian',
    });
    const one: ResultsView = {
      ...view(false, 0),
      participants: 1,
      versions: [{ ...view(false, 0).versions[0]!, results: single }],
    };
    for (const text of everyRendering(one)) expect(text).not.toMatch(/(?<!\d)1 (rating|member)s\b/);
    expect(renderResults(one, (id) => id)).toContain('1 rating (1 member gave opinions):');
    expect(renderResults(one, (id) => id)).toContain('over 1 member');
    expect(JSON.stringify(resultsBlocks(one))).toContain('1 rating (1 member gave opinions)');
    const hiddenOne: ResultsView = {
      ...view(true, 0),
      versions: [{ ...view(true, 0).versions[0]!, results: concealed(single) }],
    };
    for (const text of everyRendering(hiddenOne)) expect(text).toMatch(/(?<!\d)1 rating so far/);
    const status: StatusView = {
      roundId: 'r1',
      channelId: 'C1',
      question: 'Q?',
      thread: null,
      phase: 'critiquing',
      phaseText: 'collecting critiques',
      opinions: 2,
      critiques: 1,
      version: 1,
      ratings: 1,
      deadline: null,
      failureReason: null,
      usage: {},
    };
    expect(statusText(status)).toContain('statement version 1, 1 rating, 1 critique.');
  });

  it('a hidden round shows the count of ratings and no result, nor who rated', () => {
    for (const text of everyRendering(view(true, 0))) {
      expect(text).toMatch(/2 ratings so far/);
      expect(text).toMatch(/hidden until the round is finished/);
      expect(text).not.toMatch(/U_ANA|U_BEN|50%|mean approval \d/i);
    }
  });

  it('a hidden round that was cancelled says its results stay hidden, not that a finish will show them', () => {
    for (const text of everyRendering({ ...view(true, 0), phase: 'cancelled' })) {
      expect(text).toMatch(/2 ratings/);
      expect(text).toMatch(/cancelled/);
      expect(text).not.toMatch(/until the round is finished/);
      expect(text).not.toMatch(/U_ANA|U_BEN|50%|mean approval \d/i);
    }
  });

  it('says how many critiques no revision used, and nothing when none was left', () => {
    const [blocks, , embed, consoleText] = everyRendering({
      ...view(false, 0),
      unusedCritiques: 1,
    });
    for (const text of [blocks, embed, consoleText]) {
      expect(text).toMatch(
        /1 member critiqued the last statement; .*no revision used the critique/,
      );
    }
    for (const text of everyRendering(view(false, 0))) expect(text).not.toMatch(/critiqued/);
  });

  it('keeps Slack within 50 blocks: the latest versions that fit, and a note saying so', () => {
    const one = view(false, 0).versions[0]!;
    const many: ResultsView = {
      ...view(false, 0),
      versions: Array.from({ length: 60 }, (_, i) => ({ ...one, version: i + 1 })),
    };
    const blocks = resultsBlocks(many);
    expect(blocks.length).toBeLessThanOrEqual(50);
    const text = JSON.stringify(blocks);
    expect(text).toMatch(/Showing the latest \d+ of 60 versions/);
    expect(text).toContain('*Version 60:*');
    expect(text).not.toContain('*Version 1:*');
    // The question and the model line are kept whatever is left out.
    expect(text).toContain('Q?');
    expect(text).toContain('Approvals were predicted by lexical');
    // A short round is shown whole, with no note.
    expect(JSON.stringify(resultsBlocks(view(false, 0)))).not.toMatch(/Showing the latest/);
  });

  it('cuts one version naming thousands of members at the limit, saying so', () => {
    const ids = Array.from({ length: 5_000 }, (_, i) => `U${String(i).padStart(10, '0')}`);
    const wide = pollResults({
      scale: 'approval3',
      ratings: ids.map((id, i) => ({
        participantId: id,
        optionKey: 'disagree',
        approval: 0,
        at: i,
      })),
      predicted: Object.fromEntries(ids.map((id) => [id, 0.2])),
      welfare: 'utilitarian',
    });
    const base = view(false, 0);
    const blocks = resultsBlocks({
      ...base,
      versions: [{ ...base.versions[0]!, results: wide }],
    });
    expect(blocks.length).toBe(50);
    expect(JSON.stringify(blocks)).toMatch(/longer than a Slack message holds/);
  });

  it('with a minimum turnout the verdict is stated; without one it is not', () => {
    for (const text of everyRendering(view(false, 2))) expect(text).toMatch(/endorsed/);
    for (const text of everyRendering(view(false, 3))) {
      expect(text).toMatch(/not enough ratings/);
    }
    for (const text of everyRendering(view(false, 0))) {
      expect(text).not.toMatch(/endorsed|not enough ratings/);
    }
  });
});

describe('the exclusion check in every adapter', () => {
  it('says when every opinion went in whole, and names whom the statement is predicted to serve worst', () => {
    // Every rendering but Slack's one-line notification text.
    for (const text of everyRendering(view(false, 0)).filter((_, i) => i !== 1)) {
      expect(text).toMatch(
        /[Ee]xclusion check: every opinion reached the statement writer in full/,
      );
      expect(text).toMatch(/[Pp]redicted to serve worst: (<@)?U_BEN>? at 30%/);
    }
  });

  it('names the members whose text was cut, and the versions written from summaries', () => {
    const cut = view(false, 0, { truncated: ['U_CAI'], summarisedVersions: [1] });
    for (const text of [JSON.stringify(resultsBlocks(cut)), JSON.stringify(resultsEmbed(cut))]) {
      expect(text).toContain('<@U_CAI>');
      expect(text).toMatch(/summaries/);
    }
    expect(renderResults(cut, (id) => id.toLowerCase())).toContain(
      'exclusion check: cut to the length limit: u_cai; written from summaries: version 1',
    );
  });
});

describe('endorsement', () => {
  it('needs the turnout, then a mean approval of at least half', () => {
    expect(endorsement(results, 0)).toBeNull();
    expect(endorsement(results, 2)).toBe('endorsed'); // mean 50%
    expect(endorsement(results, 3)).toBe('not enough ratings');
    const against = pollResults({
      scale: 'approval3',
      ratings: [{ participantId: 'a', optionKey: 'disagree', approval: 0, at: 1 }],
      predicted: {},
      welfare: 'utilitarian',
    });
    expect(endorsement(against, 1)).toBe('not endorsed');
  });
});

describe('the critique invitation, on both platforms, says what follows and when', () => {
  const invite = (deadline: number | null) => ({
    roundId: 'r1',
    channelId: 'C1',
    question: 'Q?',
    thread: null,
    version: 1,
    statement: 'We try four days for three months.',
    deadline,
  });
  const slack = (deadline: number | null) =>
    JSON.stringify(critiqueInviteMessage(invite(deadline)));

  it('with no deadline, that a moderator closes the critiques: nothing follows on its own', () => {
    for (const text of [slack(null), critiqueInviteText(invite(null))]) {
      expect(text).toContain(
        'When a moderator closes critiques (`/consensus close`), a revised statement',
      );
      expect(text).toContain('ratings of this statement still count');
      expect(text).not.toMatch(/revised statement follows/);
    }
  });

  it('with a deadline, when they close, each platform writing the time its own way', () => {
    const at = Date.UTC(2026, 11, 4, 20, 0);
    expect(slack(at)).toContain(`When critiques close <!date^${at / 1000}^`);
    expect(critiqueInviteText(invite(at))).toContain(`When critiques close <t:${at / 1000}:`);
    expect(critiqueInviteText(invite(at))).toContain('or sooner, with a moderator');
  });
});

describe('what a member is told after clicking a rating button', () => {
  it('names the option as the poll does on both platforms, and what a hidden round shows later', () => {
    expect(ratedNote(null, '5')).toBe('Your rating: 5/7. Click another button to change it.');
    expect(ratedNote('anonymous', 'agree')).toBe(
      'Your anonymous rating: agree. Click another button to change it.',
    );
    expect(ratedNote('hidden', 'disagree')).toMatch(
      /^Your rating: disagree\. The tally stays hidden until the round is finished; the results then show it, and name the members who rated lowest\./,
    );
  });
});
