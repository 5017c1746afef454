import type { Round, RoundSettings } from '../../src/domain/round.js';
import type { Scope } from '../../src/domain/scope.js';
import { CHANNEL, type Harness, MODERATOR, OPINIONS, until } from '../support/harness.js';

/** A round in any workspace, run to its poll: opinions, close, statement posted. */
export async function roundToPoll(
  h: Harness,
  scope: Scope,
  opinions: Record<string, string> = OPINIONS,
  question = 'Should our team adopt a four-day week?',
  settings: Partial<RoundSettings> = {},
): Promise<{ round: Round; statementMessageId: string }> {
  const round = await roundToClose(h, scope, opinions, question, settings);
  const statement = await h.platform.waitFor('statement', round.id);
  return { round, statementMessageId: statement.ref.messageId };
}

/** A round in any workspace, started, given its opinions and closed (the pipeline starts). */
export async function roundToClose(
  h: Harness,
  scope: Scope,
  opinions: Record<string, string> = OPINIONS,
  question = 'Should our team adopt a four-day week?',
  settings: Partial<RoundSettings> = {},
): Promise<Round> {
  const round = await h.runtime.service.start({
    scope,
    channelId: CHANNEL,
    actor: MODERATOR,
    question,
    settings,
  });
  const thread = await until(
    async () => (await h.runtime.store.rounds.require(scope, round.id)).questionRef,
  );
  let at = 1;
  for (const [id, text] of Object.entries(opinions)) {
    await h.runtime.service.reply({
      scope,
      channelId: CHANNEL,
      threadRootId: thread.messageId,
      messageId: `msg-${round.id}-${id}`,
      userId: id,
      text,
      at: at++,
    });
  }
  await h.runtime.service.close({ scope, channelId: CHANNEL, roundId: round.id }, MODERATOR);
  return round;
}

export async function rate(
  h: Harness,
  scope: Scope,
  messageId: string,
  votes: Record<string, string>,
  at = 100,
): Promise<void> {
  for (const [userId, optionKey] of Object.entries(votes)) {
    await h.runtime.service.react({
      scope,
      channelId: CHANNEL,
      messageId,
      userId,
      optionKey,
      at,
      removed: false,
    });
  }
}

export async function finish(h: Harness, scope: Scope, roundId: string) {
  return h.runtime.service.finish({ scope, channelId: CHANNEL, roundId }, MODERATOR);
}
