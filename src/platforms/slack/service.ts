import type { PlatformService } from '../../deliberation/ports.js';
import type { DeliberationService } from '../../deliberation/service.js';

/** The part of the deliberation service the Slack adapter calls (and its catch-up). */
export type SlackService = PlatformService &
  Pick<
    DeliberationService,
    | 'recentOpenRounds'
    | 'pollReactions'
    | 'removeReplyInChannel'
    | 'isStatementMessage'
    | 'channelGone'
    | 'botRemoved'
    | 'botBack'
    | 'statementDeleted'
    | 'threadDeleted'
  >;
