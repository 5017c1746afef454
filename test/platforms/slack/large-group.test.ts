import { afterEach, describe, expect, it } from 'vitest';
import { CHANNEL, SCOPE, type Stack, startRound, startStack, until } from './support.js';

/** Member ids of Slack's usual length (11 characters), so each mention is 14. */
const MEMBERS = Array.from({ length: 250 }, (_, i) => `U${String(i + 1).padStart(10, '0')}`);
const CRITICS = Array.from({ length: 250 }, (_, i) => `W${String(i + 1).padStart(10, '0')}`);

/** Every text of a call's blocks. */
function blockTexts(blocks: unknown): string[] {
  return (blocks as { text?: { text?: string }; elements?: { text?: string }[] }[]).flatMap((b) => [
    b.text?.text ?? '',
    ...(b.elements ?? []).map((e) => e.text ?? ''),
  ]);
}

/**
 * A group larger than one Block Kit text object (3,000 characters) can name: the fake
 * refuses such blocks with `invalid_blocks`, as Slack does.
 */
describe('a large group on Slack', () => {
  let s: Stack;
  afterEach(async () => {
    await s?.stop();
  });

  it('posts the statement, the reminder and the results when they name hundreds of members', async () => {
    s = await startStack();
    const { runtime, fake } = s;
    const { round, questionTs } = await startRound(
      s,
      'start --remind-minutes 30 Should our team adopt a four-day week?',
    );
    // The same opinion from everyone: the model predicts each the same approval, so every
    // member is tied as the least served.
    for (const [i, user] of MEMBERS.entries()) {
      await runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: questionTs,
        messageId: `1700000100.${String(i).padStart(6, '0')}`,
        userId: user,
        text: 'A trial of a four-day week makes sense, with Friday support covered by a rota.',
        at: 1_700_000_100_000 + i,
      });
    }
    await s.command('UMOD', 'close');
    const statement = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('Proposed statement') &&
        c.response !== undefined,
    );
    expect(statement.response).toMatchObject({ ok: true });
    const named = blockTexts(statement.args.blocks).join('\n');
    for (const user of MEMBERS) expect(named).toContain(`<@${user}>`);

    // The reminder's delayed job, run now by the real worker instead of in 30 minutes.
    const job = await until(() =>
      runtime.queues.deadline.getJob(`reminder-slack.${SCOPE.workspaceId}-${round.id}-v1`),
    );
    await job.changeDelay(0);
    const reminder = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('Reminder:') &&
        c.response !== undefined,
    );
    expect(reminder.response).toMatchObject({ ok: true });
    const reminded = blockTexts(reminder.args.blocks).join('\n');
    for (const user of MEMBERS) expect(reminded).toContain(`<@${user}>`);

    // Hundreds more critique without having given an opinion: the results label them all.
    await s.command('UMOD', 'critique');
    const invite = await fake.waitFor(
      (c) => c.method === 'chat.postMessage' && String(c.args.text).startsWith('What does'),
    );
    await until(async () => runtime.store.messages.slot(SCOPE, round.id, 'critique:1'));
    for (const [i, user] of CRITICS.entries()) {
      await runtime.service.reply({
        scope: SCOPE,
        channelId: CHANNEL,
        threadRootId: questionTs,
        messageId: `1700000900.${String(i).padStart(6, '0')}`,
        userId: user,
        text: 'It says nothing about who covers Friday support.',
        at: 1_700_000_900_000 + i,
      });
    }
    expect(invite.response).toMatchObject({ ok: true });
    await s.command('UMOD', 'finish');
    const results = await fake.waitFor(
      (c) =>
        c.method === 'chat.postMessage' &&
        String(c.args.text).startsWith('Results') &&
        c.response !== undefined,
    );
    expect(results.response).toMatchObject({ ok: true });
    const labelled = blockTexts(results.args.blocks).join('\n');
    for (const user of CRITICS) expect(labelled).toContain(`<@${user}>`);
    expect(fake.calls.filter((c) => c.response?.ok === false)).toEqual([]);
  });
});
