import { describe, expect, it } from 'vitest';
import type { ProgressView } from '../../../src/deliberation/views.js';
import { ConsolePlatform } from '../../../src/platforms/console/console-platform.js';

function view(done: number): ProgressView {
  const labels = ['Writing candidates', 'Predicting approval', 'Choosing'];
  return {
    roundId: 'r1',
    channelId: 'C1',
    question: 'Four days?',
    thread: { channelId: 'C1', messageId: 'q1', threadId: null },
    version: 1,
    steps: labels.map((label, i) => ({ label, done: i < done })),
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
});
