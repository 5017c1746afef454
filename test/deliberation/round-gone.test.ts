import { describe, expect, it } from 'vitest';
import { tellRoundGone } from '../../src/deliberation/round-gone.js';
import { ConsolePlatform } from '../../src/platforms/console/console-platform.js';
import { RecordingLog } from '../support/harness.js';
import { storedRound } from '../support/rounds.js';

const round = storedRound({
  id: 'r1',
  scope: { platform: 'console', workspaceId: 'W1' },
  question: 'Four days?',
  createdBy: 'U7',
  phase: 'cancelled',
});

/** The console platform, with its channel notices or its direct messages refused. */
function platform(refuse: { notice?: boolean; dm?: boolean } = {}) {
  const lines: string[] = [];
  const port = new ConsolePlatform((text) => lines.push(text));
  if (refuse.notice) port.postNotice = async () => Promise.reject(new Error('not_in_channel'));
  if (refuse.dm) port.directMessage = async () => Promise.reject(new Error('cannot_dm'));
  return { port, lines };
}

describe('telling that a round was cancelled because its place is gone', () => {
  it('says a deleted thread in the channel, and sends nobody a direct message', async () => {
    const { port, lines } = platform();
    const log = new RecordingLog();
    await tellRoundGone(port, log, round, 'deleted');
    expect(lines.join('\n')).toContain('The thread of round `r1` (“Four days?”) was deleted');
    expect(lines.filter((l) => l.includes('(to U7 only)'))).toEqual([]);
    expect(log.lines).toEqual([]);
  });

  it('tells the starter directly when the channel refuses the notice', async () => {
    const { port, lines } = platform({ notice: true });
    const log = new RecordingLog();
    await tellRoundGone(port, log, round, 'locked');
    expect(lines.filter((l) => l.includes('(to U7 only)'))).toEqual([
      '  ! (to U7 only) Round `r1` (“Four days?”) in <#C1> is cancelled: the bot can no longer post in that channel (it was archived or deleted, or the bot was removed from it). Start a new one with `/consensus start` in a channel the bot is in.',
    ]);
    expect(log.lines.map((l) => l.message)).toEqual([
      'could not say in the channel that the round was cancelled',
    ]);
  });

  it('tries no channel notice for a channel that is gone, only the direct message', async () => {
    const { port, lines } = platform();
    await tellRoundGone(port, new RecordingLog(), round, 'channel');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ {2}! \(to U7 only\) Round `r1`/);
  });

  it('logs, and does not throw, when the starter takes no direct messages either', async () => {
    const { port } = platform({ notice: true, dm: true });
    const log = new RecordingLog();
    await expect(tellRoundGone(port, log, round, 'deleted')).resolves.toBeUndefined();
    expect(log.lines.map((l) => [l.level, l.message])).toEqual([
      ['warn', 'could not say in the channel that the round was cancelled'],
      ['warn', 'could not tell the member who started the round that it was cancelled'],
    ]);
    expect(JSON.stringify(log.lines[1]?.fields)).toContain('cannot_dm');
  });
});
