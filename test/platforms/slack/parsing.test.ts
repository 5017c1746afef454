import { describe, expect, it } from 'vitest';
import { loadSlackConfig } from '../../../src/app/slack-config.js';
import { parseCommand } from '../../../src/platforms/slack/command.js';
import { emojiFor, optionKeyFor } from '../../../src/platforms/slack/emoji.js';
import {
  chunk,
  escapeKeepingMentions,
  fromSlack,
  revisionMs,
  tsToMs,
} from '../../../src/platforms/slack/text.js';

describe('slash command parsing', () => {
  it.each([
    ['', { kind: 'modal' }],
    ['  help  ', { kind: 'help' }],
    ['close', { kind: 'close', roundId: null }],
    ['FINISH rabc123', { kind: 'finish', roundId: 'rabc123' }],
    ['export rabc123', { kind: 'export', roundId: 'rabc123' }],
    ['export all', { kind: 'exportWorkspace' }],
    ['export ALL', { kind: 'exportWorkspace' }],
    ['export --workspace', { kind: 'exportWorkspace' }],
    ['export —workspace', { kind: 'exportWorkspace' }],
    // In any case, as `all` and the start options are: not a round named "--Workspace".
    ['export --Workspace', { kind: 'exportWorkspace' }],
    ['extend 30', { kind: 'extend', minutes: 30, roundId: null }],
    ['extend 5 rabc123', { kind: 'extend', minutes: 5, roundId: 'rabc123' }],
    // Pasted from the bot's own messages, which write ids in code spans.
    ['close `rabc123`', { kind: 'close', roundId: 'rabc123' }],
    ['extend 5 `rabc123`', { kind: 'extend', minutes: 5, roundId: 'rabc123' }],
    ['start Four days?', { kind: 'start', question: 'Four days?', settings: {} }],
    [
      'start --welfare schulze --scale=likert7 --minutes 90 --candidates 12 Keep   the  spacing?',
      {
        kind: 'start',
        question: 'Keep   the  spacing?',
        settings: { welfare: 'schulze', scale: 'likert7', minutes: 90, candidates: 12 },
      },
    ],
    [
      'start --welfare bridging Office move?',
      { kind: 'start', question: 'Office move?', settings: { welfare: 'bridging' } },
    ],
    [
      'start -- --literal question',
      { kind: 'start', question: '--literal question', settings: {} },
    ],
    // Known flags count wherever they are; the question is what is left, in order.
    [
      'start Should we? --minutes 5',
      { kind: 'start', question: 'Should we?', settings: { minutes: 5 } },
    ],
    [
      'start Should we --hidden move   the office? --candidates=3 --scale likert7',
      {
        kind: 'start',
        question: 'Should we move   the office?',
        settings: { hidden: true, candidates: 3, scale: 'likert7' },
      },
    ],
    // Quoted text, and everything after a lone `--`, is the question as typed.
    [
      'start Is "--minutes 5" a good name? Or “--hidden”? --anonymous',
      {
        kind: 'start',
        question: 'Is "--minutes 5" a good name? Or “--hidden”?',
        settings: { anonymous: true },
      },
    ],
    [
      'start --minutes 5 Should we -- use --force pushes?',
      { kind: 'start', question: 'Should we use --force pushes?', settings: { minutes: 5 } },
    ],
    // Dashes in prose stay prose; an autocorrected —flag still counts.
    [
      'start We could — maybe — try it ---> later —minutes 5',
      { kind: 'start', question: 'We could — maybe — try it ---> later', settings: { minutes: 5 } },
    ],
    [
      'start Invite <@U123|ana> &amp; <#C1|general>?',
      { kind: 'start', question: 'Invite @ana & #general?', settings: {} },
    ],
  ])('%j', (text, expected) => {
    expect(parseCommand(text)).toEqual(expected);
  });

  it.each(['extend', 'extend soon', 'extend 0', 'extend 5 r1 r2'])(
    'refuses %j with the extend usage',
    (text) => {
      const parsed = parseCommand(text);
      expect(parsed.kind).toBe('invalid');
      expect(parsed.kind === 'invalid' && parsed.message).toMatch(/Usage: `\/consensus extend/);
    },
  );

  it('names an unknown option inside the question, and how to keep it there', () => {
    const parsed = parseCommand('start Should we use --force pushes?');
    expect(parsed).toMatchObject({ kind: 'invalid' });
    expect(parsed.kind === 'invalid' && parsed.message.split('\n')[0]).toBe(
      'Unknown option --force; the options are --candidates, --minutes, --welfare, --scale, ' +
        '--poll-minutes, --remind-minutes, --min-turnout, --revise-below, --hidden, --anonymous. ' +
        'To keep it in the question, put it in quotes or write `--` before the question.',
    );
  });

  it.each([
    'start --minutes 5 --minutes 10 Q?',
    'start --Minutes=5 Q? --minutes 10',
    'start --welfare nash Q? --welfare egalitarian',
  ])('refuses a value option given twice rather than keep one silently: %j', (text) => {
    const parsed = parseCommand(text);
    expect(parsed.kind === 'invalid' && parsed.message.split('\n')[0]).toMatch(
      /^--(minutes|welfare) is given twice; give it once\.$/,
    );
  });

  it('refuses an option typed with one dash rather than post it as part of the question', () => {
    const first = (text: string) => {
      const parsed = parseCommand(text);
      return parsed.kind === 'invalid' ? parsed.message.split('\n')[0] : parsed;
    };
    expect(first('start -minutes 5 Should we?')).toBe(
      '-minutes has one dash; options take two: --minutes.',
    );
    expect(first('start Should we? -Hidden')).toBe(
      '-hidden has one dash; options take two: --hidden. To keep it in the question, put it in quotes or write `--` before the question.',
    );
    // Other one-dash words, quoted ones and values stay what they were.
    expect(parseCommand('start -5 degrees: close the office?')).toMatchObject({
      kind: 'start',
      question: '-5 degrees: close the office?',
    });
    expect(parseCommand('start Keep "-hidden" in?')).toMatchObject({
      kind: 'start',
      question: 'Keep "-hidden" in?',
    });
    expect(parseCommand('start -- -minutes as words?')).toMatchObject({
      kind: 'start',
      question: '-minutes as words?',
    });
  });

  it.each(['start ""', 'start “”', "start ''", 'start --minutes 5 " "'])(
    'refuses %j, a question of quote marks only, as empty',
    (text) => {
      const parsed = parseCommand(text);
      expect(parsed.kind === 'invalid' && parsed.message.split('\n')[0]).toBe(
        'The question is empty: write the question after the command.',
      );
    },
  );

  it('takes a switch given twice, which says the same thing twice', () => {
    expect(parseCommand('start --hidden --hidden Q?')).toMatchObject({
      kind: 'start',
      settings: { hidden: true },
    });
  });

  it('takes --revise-below with or without --poll-minutes (it is also checked once everyone rated)', () => {
    expect(parseCommand('start Q? --revise-below=50 --minutes 30')).toEqual({
      kind: 'start',
      question: 'Q?',
      settings: { reviseBelow: 50, minutes: 30 },
    });
    expect(parseCommand('start --revise-below 50 --poll-minutes 30 Q?')).toEqual({
      kind: 'start',
      question: 'Q?',
      settings: { reviseBelow: 50, pollMinutes: 30 },
    });
  });

  it('reads options and their choices in any case, as it reads the subcommands', () => {
    expect(
      parseCommand('Start --Minutes 5 --WELFARE Nash --scale=LIKERT7 --Hidden Four days?'),
    ).toEqual({
      kind: 'start',
      question: 'Four days?',
      settings: { minutes: 5, welfare: 'nash', scale: 'likert7', hidden: true },
    });
    expect(parseCommand('start Four days? --Poll-Minutes=30')).toEqual({
      kind: 'start',
      question: 'Four days?',
      settings: { pollMinutes: 30 },
    });
  });

  it.each([
    ['start --minutes -5 Q?', '--minutes'],
    ['start Q? --candidates -3', '--candidates'],
    ['start --poll-minutes=-1 --minutes 5 Q?', '--poll-minutes'],
  ])('refuses a negative number in %j by the flag’s own rule', (text, flag) => {
    const parsed = parseCommand(text);
    if (parsed.kind !== 'invalid') throw new Error(`parsed as ${parsed.kind}`);
    expect(parsed.message).toContain(flag);
    expect(parsed.message).toMatch(/whole number/);
    expect(parsed.message).not.toMatch(/ambiguous/i);
  });

  it.each([
    'start --candidates 0 Q?',
    'start --candidates 1.5 Q?',
    `start --minutes ${7 * 24 * 60 + 1} Q?`,
    'start --scale',
    'start --welfare=rawls Q?',
    'start A question with --flags later',
    'start Q? --minutes',
    'start Q? --minutes soon',
    'start Q? --hidden=yes',
    `start ${'x'.repeat(501)}`,
    'status one two',
    'nope',
  ])('rejects %j with a message, never a throw', (text) => {
    const parsed = parseCommand(text);
    expect(parsed.kind).toBe('invalid');
  });
});

describe('emoji and options', () => {
  it.each([
    ['+1', 'agree'],
    ['thumbsup', 'agree'],
    ['+1::skin-tone-6', 'agree'],
    ['shrug', 'unsure'],
    ['woman-shrugging::skin-tone-2', 'unsure'],
    ['-1', 'disagree'],
    ['thumbsdown::skin-tone-3', 'disagree'],
    ['one', '1'],
    ['seven', '7'],
    ['tada', null],
    ['heart', null],
    ['eight', null],
  ])('%s -> %s', (emoji, key) => {
    expect(optionKeyFor(emoji)).toBe(key);
  });

  it('adds the canonical name for every option', () => {
    expect(['agree', 'unsure', 'disagree', '1', '7'].map(emojiFor)).toEqual([
      '+1',
      'shrug',
      '-1',
      'one',
      'seven',
    ]);
  });
});

describe('Slack text', () => {
  it('turns control sequences and entities into plain text', () => {
    expect(
      fromSlack(
        'Hi <@U1>, see <https://x.test/a?b=1&amp;c=2|the doc> and <https://y.test> in <#C9|ops> <!here> 3 &lt; 4 &amp;&amp; 5 &gt; 4',
      ),
    ).toBe(
      'Hi @U1, see the doc (https://x.test/a?b=1&c=2) and https://y.test in #ops @here 3 < 4 && 5 > 4',
    );
  });

  it('escapes angle brackets but keeps the mentions the service wrote', () => {
    expect(escapeKeepingMentions('Cancelled by <@U12AB>; use `start <question>` & <#C1|x>')).toBe(
      'Cancelled by <@U12AB>; use `start &lt;question&gt;` &amp; <#C1|x>',
    );
  });

  it('reads message timestamps as epoch milliseconds', () => {
    expect(tsToMs('1700000000.123456')).toBe(1_700_000_000_123);
    expect(tsToMs('1700000000.1')).toBe(1_700_000_000_100);
  });

  it("dates a reply's text by its edit, never before the reply itself", () => {
    expect(revisionMs('1700000000.123456', undefined)).toBe(1_700_000_000_123);
    expect(revisionMs('1700000000.123456', '1700000005.000000')).toBe(1_700_000_005_000);
    // Slack's whole-second edit time in the reply's own second: after the reply, never tied.
    expect(revisionMs('1700000000.123456', '1700000000.000000')).toBe(1_700_000_000_124);
  });

  it('cuts long text at word breaks within the limit', () => {
    const text = 'word '.repeat(1_000).trim();
    const pieces = chunk(text, 2_900);
    expect(pieces.every((p) => p.length <= 2_900)).toBe(true);
    expect(pieces.join(' ')).toBe(text);
  });

  it('cuts text without a break between characters, never inside an emoji', () => {
    const text = `${'x'.repeat(2_899)}${'😀'.repeat(10)}`;
    const pieces = chunk(text, 2_900);
    expect(pieces.map((p) => p.length)).toEqual([2_899, 20]);
    expect(pieces.join('')).toBe(text);
  });
});

describe('Slack settings', () => {
  it('is off without a bot token, and names every problem without echoing values', () => {
    expect(loadSlackConfig({})).toBeNull();
    expect(loadSlackConfig({ SLACK_BOT_TOKEN: '', PORT: '' })).toBeNull();
    let message = '';
    try {
      loadSlackConfig({
        SLACK_BOT_TOKEN: 'xoxp-user-token-secret',
        SLACK_APP_TOKEN: 'xoxb-wrong-kind-secret',
        SLACK_API_URL: 'ftp://nope',
        SLACK_MODERATORS: 'U12AB, alice',
        PORT: '70000',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('SLACK_BOT_TOKEN: must be the bot token, which starts with xoxb-');
    expect(message).toContain(
      'SLACK_APP_TOKEN: must be an app-level token, which starts with xapp-',
    );
    expect(message).toContain('SLACK_API_URL: must be an http(s) URL');
    expect(message).toContain('SLACK_MODERATORS: "alice" is not a Slack member id');
    expect(message).toContain('PORT: must be a port number from 0 to 65535');
    expect(message).not.toContain('secret');
  });

  it('against Slack itself, refuses tokens without their prefix, naming the variable only', () => {
    expect(() =>
      loadSlackConfig({ SLACK_BOT_TOKEN: 'bad-secretvalue123', SLACK_APP_TOKEN: 'xapp-1' }),
    ).toThrow('SLACK_BOT_TOKEN: must be the bot token, which starts with xoxb-');
    let message = '';
    try {
      loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'foo-secretvalue' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(
      'SLACK_APP_TOKEN: must be an app-level token, which starts with xapp-',
    );
    expect(message).not.toContain('secretvalue');
  });

  it('accepts tokens and member ids of shapes Slack does not use in production, such as a fake uses', () => {
    const config = loadSlackConfig({
      SLACK_BOT_TOKEN: 'test-bot-token',
      SLACK_APP_TOKEN: 'test-app-token',
      SLACK_API_URL: 'http://127.0.0.1:9/api/',
      SLACK_MODERATORS: 'U1,W2',
    });
    expect(config).toMatchObject({
      mode: 'socket',
      botToken: 'test-bot-token',
      appToken: 'test-app-token',
      moderatorIds: ['U1', 'W2'],
    });
    expect(() =>
      loadSlackConfig({ SLACK_BOT_TOKEN: 'xapp-1-A1-x', SLACK_SIGNING_SECRET: 's' }),
    ).toThrow(/SLACK_BOT_TOKEN: must be the bot token/);
  });

  it('requires the signing secret in HTTP mode, and the bot token with the others', () => {
    expect(() => loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxb-1' })).toThrow(
      /SLACK_SIGNING_SECRET: is required in HTTP mode/,
    );
    expect(() => loadSlackConfig({ SLACK_APP_TOKEN: 'xapp-1' })).toThrow(
      /SLACK_BOT_TOKEN: is required/,
    );
  });

  it('reads HTTP and Socket Mode settings with their defaults', () => {
    expect(loadSlackConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's3' })).toEqual({
      mode: 'http',
      botToken: 'xoxb-1',
      appToken: null,
      signingSecret: 's3',
      apiUrl: 'https://slack.com/api/',
      moderatorIds: null,
      port: 3000,
    });
    expect(
      loadSlackConfig({
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_APP_TOKEN: 'xapp-1',
        SLACK_API_URL: 'http://127.0.0.1:9/api',
        SLACK_MODERATORS: ' U1AA , W2BB ,',
        PORT: '8080',
      }),
    ).toMatchObject({
      mode: 'socket',
      apiUrl: 'http://127.0.0.1:9/api/',
      moderatorIds: ['U1AA', 'W2BB'],
      port: 8080,
    });
  });
});
