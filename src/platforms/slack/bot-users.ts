import type { Log } from '../../domain/log.js';
import { describe } from './port.js';
import { Remembered } from './remembered.js';

/** Whether an account is a bot never changes; a day bounds what a reused id could cost. */
const BOT_TTL_MS = 24 * 60 * 60_000;
const CACHED_USERS = 20_000;

export interface BotUsersOptions {
  /** users.info: whether the account is a bot (an app's bot user, a workflow). */
  lookUp: (userId: string) => Promise<boolean>;
  log: Log;
  now?: () => number;
}

/**
 * Other apps' bot users. Slack's reaction events, unlike its messages, carry no bot flag,
 * so a bot that reacts with a poll emoji (a reacji or workflow app) would otherwise be
 * counted as a member's rating. Asked once per user and remembered.
 */
export class BotUsers {
  private readonly answers: Remembered<boolean>;

  constructor(private readonly options: BotUsersOptions) {
    this.answers = new Remembered({
      lookUp: options.lookUp,
      ttlMs: BOT_TTL_MS,
      maxEntries: CACHED_USERS,
      ...(options.now && { now: options.now }),
    });
  }

  /** A lookup that fails counts the user as a member: a rating is not lost to a Slack hiccup. */
  isBot(userId: string): Promise<boolean> {
    return this.answers.get(userId).catch((error: unknown) => {
      this.options.log.warn({ error: describe(error) }, 'users.info failed; counting the reaction');
      return false;
    });
  }
}
