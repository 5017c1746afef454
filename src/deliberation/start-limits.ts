/**
 * The limits on starting a round: how many rounds a channel may have open at once, and how
 * many a member and a workspace may start an hour. They guard against load and spam, not
 * against a round's rules, so they sit apart from the service that calls them before it
 * creates a round; the limits and the store they count in are passed in.
 */
import { DomainError } from '../domain/errors.js';
import type { CommandLimits } from '../domain/limits.js';
import type { Log } from '../domain/log.js';
import { placeName, type Scope } from '../domain/scope.js';
import type { Store } from '../store/store.js';
import type { Actor } from './ports.js';
import { count, enforceRates } from './rate-checks.js';

/** What of a start command the limits look at. */
export interface StartRequest {
  scope: Scope;
  channelId: string;
  actor: Actor;
}

/**
 * The open-round cap first (it costs nothing to be refused), then the member's and
 * the workspace's start rates; a member refused does not count against the workspace.
 * Two starts racing past the cap can both land: the cap bounds load, it is not a quota.
 */
export async function checkStartLimits(
  deps: { store: Store; log: Log; limits: CommandLimits },
  command: StartRequest,
): Promise<void> {
  const { store, log, limits } = deps;
  const place = placeName(command.scope);
  if (limits.openRoundsPerChannel > 0) {
    const open = await store.rounds.openInChannel(command.scope, command.channelId);
    if (open.length >= limits.openRoundsPerChannel) {
      log.info(
        { scope: command.scope, channelId: command.channelId, open: open.length },
        'start refused: MAX_OPEN_ROUNDS_PER_CHANNEL',
      );
      throw new DomainError(
        'limit_reached',
        `This channel already has ${open.length} open rounds, the most allowed at once. ` +
          'Finish or cancel one of them first.',
      );
    }
  }
  await enforceRates(
    deps,
    { scope: command.scope, userId: command.actor.userId, action: 'start' },
    [
      {
        setting: 'LIMIT_STARTS_PER_MEMBER_PER_HOUR',
        bucket: `starts:member:${command.actor.userId}`,
        max: limits.startsPerMemberPerHour,
        windowSeconds: 3_600,
        refusal: (max) =>
          `You have started ${count(max, 'round')} in the past hour, the most allowed`,
      },
      {
        setting: 'LIMIT_STARTS_PER_WORKSPACE_PER_HOUR',
        bucket: 'starts:workspace',
        max: limits.startsPerWorkspacePerHour,
        windowSeconds: 3_600,
        refusal: (max) =>
          `This ${place} has started ${count(max, 'round')} in the past hour, the most allowed`,
      },
    ],
  );
}
