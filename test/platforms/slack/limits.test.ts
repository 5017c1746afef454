import { afterEach, describe, expect, it } from 'vitest';
import { clockInsideWindows } from '../../support/clock.js';
import { type Stack, startRound, startStack } from './support.js';

/** What each member was told through their commands' response_urls, in order. */
const told = (s: Stack) =>
  s.fake.calls
    .filter((c) => c.method === 'respond')
    .map((c) => ({ ephemeral: c.args.response_type === 'ephemeral', text: String(c.args.text) }));

const ephemeral = (pattern: RegExp) => ({ ephemeral: true, text: expect.stringMatching(pattern) });

describe('Slack: limits on commands', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  const run = async (user: string, text: string) => {
    await s.command(user, text);
    await s.settle();
  };

  it('refuses a member past LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE, privately, saying when to retry', async () => {
    s = await startStack({
      env: { LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE: '3' },
      now: clockInsideWindows(),
    });
    await startRound(s, 'start Should our team adopt a four-day week?', 'UMOD');
    await run('U001', 'status');
    await run('U001', 'results');
    await run('U001', 'status');
    const before = s.fake.calls.length;
    await run('U001', 'results');
    expect(told(s).at(-1)).toEqual(
      ephemeral(
        /^You have run 3 commands in the past minute, the most allowed; try again in \d+ (second|minute)s?\.$/,
      ),
    );
    // The refused command did nothing else: one answer, no post.
    expect(s.fake.calls.slice(before).map((c) => c.method)).toEqual(['respond']);
    // Another member is not affected.
    await run('U002', 'status');
    expect(told(s).at(-1)?.text).toMatch(/^Round `r/);
  });

  it('refuses a workspace past LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE', async () => {
    s = await startStack({
      env: { LIMIT_COMMANDS_PER_WORKSPACE_PER_MINUTE: '2' },
      now: clockInsideWindows(),
    });
    await run('U001', 'status');
    await run('U002', 'status');
    await run('U003', 'status');
    expect(told(s).at(-1)).toEqual(
      ephemeral(
        /^This workspace has run 2 commands in the past minute, the most allowed; try again in \d+ (second|minute)s?\.$/,
      ),
    );
  });

  it('refuses a member’s export past LIMIT_EXPORTS_PER_MEMBER_PER_HOUR, and uploads nothing more', async () => {
    s = await startStack({
      env: { LIMIT_EXPORTS_PER_MEMBER_PER_HOUR: '1' },
      now: clockInsideWindows(),
    });
    await startRound(s);
    await run('U777', 'export');
    const uploads = s.fake.ok('files.completeUploadExternal').length;
    expect(uploads).toBe(2);
    await run('U777', 'export');
    expect(told(s).at(-1)).toEqual(
      ephemeral(
        /^You have asked for 1 export in the past hour, the most allowed; try again in \d+ minutes?\.$/,
      ),
    );
    expect(s.fake.ok('files.completeUploadExternal')).toHaveLength(uploads);
    // Other commands still run.
    await run('U777', 'status');
    expect(told(s).at(-1)?.text).toMatch(/^Round `r/);
  });

  it('refuses exports past LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR, whoever asks, a workspace export included', async () => {
    s = await startStack({
      moderators: 'UMOD',
      env: { LIMIT_EXPORTS_PER_WORKSPACE_PER_HOUR: '1' },
      now: clockInsideWindows(),
    });
    await startRound(s);
    await run('U001', 'export');
    await run('UMOD', 'export all');
    expect(told(s).at(-1)).toEqual(
      ephemeral(
        /^This workspace has asked for 1 export in the past hour, the most allowed; try again in \d+ minutes?\.$/,
      ),
    );
    expect(s.fake.ok('conversations.open')).toEqual([]);
  });
});
