import type { DeliberationService } from '../../deliberation/service.js';

/** The part of the deliberation service the Slack adapter calls. */
export type SlackService = Pick<
  DeliberationService,
  | 'start'
  | 'close'
  | 'critique'
  | 'finish'
  | 'cancel'
  | 'status'
  | 'results'
  | 'export'
  | 'reply'
  | 'removeReply'
  | 'react'
>;
