import { errorMessage } from '../domain/errors.js';
import type { Log } from '../domain/log.js';
import type { Round } from '../domain/round.js';
import type { PlatformPort, ThreadGone } from './ports.js';
import { headerOf, threadGoneNotice } from './views.js';

/**
 * Says that `round` was cancelled because the place it lived in is gone. A deleted or
 * locked thread leaves its channel, which is told; a channel out of reach (or one that
 * refuses the notice) cannot be, so the member who started the round hears it directly:
 * otherwise nobody would learn why the round ended.
 */
export async function tellRoundGone(
  port: PlatformPort,
  log: Log,
  round: Round,
  how: ThreadGone,
): Promise<void> {
  const ids = { roundId: round.id, scope: round.scope, how };
  if (how !== 'channel') {
    try {
      await port.postNotice({
        ...headerOf(round),
        thread: null,
        text: threadGoneNotice(round, how),
      });
      return;
    } catch (error) {
      log.warn(
        { ...ids, err: errorMessage(error) },
        'could not say in the channel that the round was cancelled',
      );
    }
  }
  try {
    await port.directMessage(round.createdBy, threadGoneNotice(round, 'channel'));
  } catch (error) {
    log.warn(
      { ...ids, err: errorMessage(error) },
      'could not tell the member who started the round that it was cancelled',
    );
  }
}
