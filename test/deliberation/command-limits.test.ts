import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CommandRequest, DeliberationService } from '../../src/deliberation/service.js';
import { type CommandLimits, DEFAULT_COMMAND_LIMITS } from '../../src/domain/limits.js';
import type { Scope } from '../../src/domain/scope.js';
import { createStore } from '../../src/store/store.js';
import { type Harness, SCOPE, startHarness } from '../support/harness.js';
import { refusal } from '../support/refusal.js';

/** Every limit off but the ones a test sets. */
const NONE: CommandLimits = {
  startsPerMemberPerHour: 0,
  startsPerWorkspacePerHour: 0,
  openRoundsPerChannel: 0,
  commandsPerMemberPerMinute: 0,
  commandsPerWorkspacePerMinute: 0,
  exportsPerMemberPerHour: 0,
  exportsPerWorkspacePerHour: 0,
};

/** 10 min 15 s into an hour: 49 min 45 s ("50 minutes") to the next hour, 45 s to the next minute. */
const QUARTER_PAST = 3_600_000 * 500_000 + 10 * 60_000 + 15_000;

function limited(h: Harness, limits: Partial<CommandLimits>, now: () => number) {
  return new DeliberationService({
    // The harness's store with `now` standing in for Redis's clock in the rate windows.
    store: createStore(h.redis, h.prefix, now),
    queues: h.runtime.queues,
    log: h.log,
    now,
    newId: () => 'unused',
    newSeed: () => 1,
    limits: { ...NONE, ...limits },
  });
}

const request = (userId: string, command = 'status', scope: Scope = SCOPE): CommandRequest => ({
  scope,
  userId,
  command,
  isExport: command === 'export',
});

describe('limits on running commands', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.stop();
  });

  it('refuses a member past their commands in any minute, says when to retry, and frees them one by one', async () => {
    let clock = QUARTER_PAST;
    const service = limited(h, { commandsPerMemberPerMinute: 3 }, () => clock);
    for (const command of ['status', 'results', 'close']) {
      await service.admitCommand(request('ana', command));
      clock += 10_000;
    }
    const error = await refusal(service.admitCommand(request('ana', 'status')));
    expect(error.code).toBe('rate_limited');
    // The first of the three leaves the minute 60 s after it came, 30 s from now.
    expect(error.message).toBe(
      'You have run 3 commands in the past minute, the most allowed; try again in 30 seconds.',
    );
    // Another member is not affected, and the log names the setting for the operator.
    await service.admitCommand(request('ben'));
    expect(h.log.lines.map((l) => l.message)).toContain(
      'status refused: LIMIT_COMMANDS_PER_MEMBER_PER_MINUTE',
    );
    clock = QUARTER_PAST + 60_000;
    await service.admitCommand(request('ana'));
    // Only the first left: the second is still in the window for another 10 s.
    expect((await refusal(service.admitCommand(request('ana')))).message).toMatch(
      /try again in 10 seconds\.$/,
    );
  });

  it.each([
    ['ahead', 120_000],
    ['behind', -120_000],
  ] as const)(
    "counts a member's commands in one window with a bot process whose clock is two minutes %s",
    async (_direction, offMs) => {
      // Two bot processes on one Redis, each with its own clock; the store is the
      // harness's, on Redis's clock.
      const onProcess = (now: () => number) =>
        new DeliberationService({
          store: h.runtime.store,
          queues: h.runtime.queues,
          log: h.log,
          now,
          newId: () => 'unused',
          newSeed: () => 1,
          limits: { ...NONE, commandsPerMemberPerMinute: 1 },
        });
      await onProcess(() => Date.now() + offMs).admitCommand(request('ana'));
      const error = await refusal(onProcess(Date.now).admitCommand(request('ana')));
      expect(error.code).toBe('rate_limited');
      // The first command leaves the window a minute after it came, whichever clock the
      // process that counted it had (a window on that clock said 3 minutes, or let it in).
      expect(error.message).toMatch(
        / past minute, the most allowed; try again in (1 minute|\d+ seconds)\.$/,
      );
    },
  );

  it('refuses a workspace past its commands a minute, whoever asks, and not another workspace', async () => {
    const service = limited(h, { commandsPerWorkspacePerMinute: 2 }, () => QUARTER_PAST);
    await service.admitCommand(request('ana'));
    await service.admitCommand(request('ben'));
    const error = await refusal(service.admitCommand(request('cai')));
    expect(error.message).toBe(
      'This workspace has run 2 commands in the past minute, the most allowed; try again in 1 minute.',
    );
    await service.admitCommand(
      request('cai', 'status', { platform: 'console', workspaceId: 'W2' }),
    );
  });

  it('does not count a member refused against the workspace', async () => {
    const service = limited(
      h,
      { commandsPerMemberPerMinute: 1, commandsPerWorkspacePerMinute: 2 },
      () => QUARTER_PAST,
    );
    await service.admitCommand(request('ana'));
    for (let i = 0; i < 5; i++) await refusal(service.admitCommand(request('ana')));
    await service.admitCommand(request('ben'));
  });

  it('counts exports against their own, stricter, hourly limit per member', async () => {
    let clock = QUARTER_PAST;
    const service = limited(
      h,
      { commandsPerMemberPerMinute: 20, exportsPerMemberPerHour: 2 },
      () => clock,
    );
    await service.admitCommand(request('ana', 'export'));
    await service.admitCommand(request('ana', 'export'));
    const error = await refusal(service.admitCommand(request('ana', 'export')));
    expect(error.code).toBe('rate_limited');
    expect(error.message).toBe(
      'You have asked for 2 exports in the past hour, the most allowed; try again in 60 minutes.',
    );
    // Other commands still run; an hour after the first two, exports are allowed again.
    await service.admitCommand(request('ana', 'status'));
    await service.admitCommand(request('ben', 'export'));
    clock += 60 * 60_000;
    await service.admitCommand(request('ana', 'export'));
  });

  it('counts exports against a workspace-wide hourly limit', async () => {
    const service = limited(h, { exportsPerWorkspacePerHour: 1 }, () => QUARTER_PAST);
    await service.admitCommand(request('ana', 'export'));
    const error = await refusal(service.admitCommand(request('ben', 'export')));
    expect(error.message).toBe(
      'This workspace has asked for 1 export in the past hour, the most allowed; try again in 60 minutes.',
    );
    await service.admitCommand(
      request('ben', 'export', { platform: 'console', workspaceId: 'W2' }),
    );
  });

  it('limits nothing at 0', async () => {
    const off = limited(h, {}, () => QUARTER_PAST);
    for (let i = 0; i < 50; i++) await off.admitCommand(request('ana', 'export'));
  });

  it('applies the configured defaults through the runtime', async () => {
    // createRuntime passes LIMIT_COMMANDS_* and LIMIT_EXPORTS_* (60/600 a minute, 20/100 an hour).
    const fixed = await startHarness({ now: () => QUARTER_PAST });
    try {
      const service = fixed.runtime.service;
      const { exportsPerMemberPerHour, commandsPerMemberPerMinute } = DEFAULT_COMMAND_LIMITS;
      for (let i = 0; i < exportsPerMemberPerHour; i++) {
        await service.admitCommand(request('ben', 'export'));
      }
      expect((await refusal(service.admitCommand(request('ben', 'export')))).message).toMatch(
        /^You have asked for 20 exports in the past hour/,
      );
      // The refused export counted as a command too.
      for (let i = exportsPerMemberPerHour + 1; i < commandsPerMemberPerMinute; i++) {
        await service.admitCommand(request('ben', 'status'));
      }
      expect((await refusal(service.admitCommand(request('ben', 'status')))).message).toMatch(
        /^You have run 60 commands in the past minute/,
      );
    } finally {
      await fixed.stop();
    }
  });
});
