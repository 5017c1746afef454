import { describe, expect, it } from 'vitest';
import type { ProgressView, StatementView } from '../../../src/deliberation/views.js';
import { ConsolePlatform } from '../../../src/platforms/console/console-platform.js';

function view(
  done: number,
  state: ProgressView['state'] = done === 3 ? 'done' : 'working',
): ProgressView {
  const labels = ['Writing candidates', 'Predicting approval', 'Choosing'];
  return {
    roundId: 'r1',
    channelId: 'C1',
    question: 'Four days?',
    thread: { channelId: 'C1', messageId: 'q1', threadId: null },
    version: 1,
    steps: labels.map((label, i) => ({ label, done: i < done })),
    state,
    summary: `${done} of 3 steps done.`,
  };
}

describe('console progress', () => {
  it('prints a progress state once, however often the same state is re-delivered', async () => {
    const lines: string[] = [];
    const platform = new ConsolePlatform((text) => lines.push(text));
    const ref = await platform.upsertProgress(view(1), null);
    await platform.upsertProgress(view(1), ref);
    await platform.upsertProgress(view(2), ref);
    await platform.upsertProgress(view(2), ref);
    await platform.upsertProgress(view(3), ref);
    await platform.upsertProgress(view(3), ref);
    expect(lines.filter((l) => l.includes('steps done'))).toHaveLength(3);
  });

  it('marks a run under way, done and stopped apart', async () => {
    const lines: string[] = [];
    const platform = new ConsolePlatform((text) => lines.push(text));
    await platform.upsertProgress(view(1), null);
    await platform.upsertProgress(view(3), null);
    await platform.upsertProgress(view(1, 'stopped'), null);
    expect(lines.map((l) => l.trim().split(' ')[0])).toEqual(['⏳', '✅', '⚠️']);
  });

  it('prints no "the statement is below" once the statement it announces was printed', async () => {
    const lines: string[] = [];
    const platform = new ConsolePlatform((text) => lines.push(text));
    const statement: StatementView = {
      ...view(3),
      anonymous: false,
      buttons: false,
      statement: 'Try it for three months.',
      options: [],
      method: 'Chosen.',
      predicted: [],
      considered: [],
      model: 'lexical-tfidf',
      notes: [],
    };
    const ref = await platform.upsertProgress(view(2), null);
    // The statement's publish job finished before the last progress edit's.
    await platform.postStatement(statement, async () => undefined);
    await platform.upsertProgress(view(3), ref);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain('Try it for three months.');
    // Another version's run still reports being done.
    await platform.upsertProgress({ ...view(3), version: 2 }, ref);
    expect(lines.at(-1)).toContain('3 of 3 steps done');
  });
});
