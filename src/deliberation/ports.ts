import type { MessageRef } from '../domain/round.js';
import type {
  CritiqueInviteView,
  NoticeView,
  ProgressView,
  QuestionView,
  ResultsView,
  StatementView,
} from './views.js';

/**
 * Thrown by a port when the round's thread no longer exists (a moderator deleted it) or
 * was locked against the bot: nothing more can be posted where the round lives, however
 * often it is retried.
 */
/**
 * How a round's place was taken away: its thread deleted or locked, or the whole channel
 * out of reach (deleted, archived, or the bot removed from it).
 */
export type ThreadGone = 'deleted' | 'locked' | 'channel';

export class ThreadGoneError extends Error {
  constructor(
    readonly threadId: string,
    readonly how: ThreadGone = 'deleted',
  ) {
    super(
      how === 'channel'
        ? `the round's channel is out of reach (${threadId})`
        : `the round's thread ${threadId} was ${how}`,
    );
    this.name = 'ThreadGoneError';
  }
}

/**
 * What a platform adapter must do for the service: post and edit messages. Every method
 * gets a platform-neutral view; rendering (Block Kit, embeds, terminal) is the adapter's.
 */
export interface PlatformPort {
  /**
   * Posts the question; the thread under the returned message collects opinions.
   * `onPosted` must be awaited as soon as the message exists, before its thread is opened
   * where that is a step of its own (Discord): replies count only once it is linked.
   */
  postQuestion(
    view: QuestionView,
    onPosted: (ref: MessageRef) => Promise<void>,
  ): Promise<MessageRef>;
  /** Posts the progress message, or edits it when `existing` is given. */
  upsertProgress(view: ProgressView, existing: MessageRef | null): Promise<MessageRef>;
  /**
   * Takes down a progress message that turned out to be a second one (its poster lost the
   * slot's lock while posting, and another posted the one now edited). A platform that
   * cannot take a message back leaves it; one already gone is no error.
   */
  removeProgress(ref: MessageRef): Promise<void>;
  /**
   * Posts the statement and adds the poll's reactions (or buttons). `onPosted` must be
   * awaited as soon as the message exists, before the reactions are added: members react
   * the moment they see it, and their ratings count only once the message is linked.
   */
  postStatement(
    view: StatementView,
    onPosted: (ref: MessageRef) => Promise<void>,
    earlierTry?: EarlierTry,
  ): Promise<MessageRef>;
  postCritiqueInvite(view: CritiqueInviteView, earlierTry?: EarlierTry): Promise<MessageRef>;
  postResults(view: ResultsView, earlierTry?: EarlierTry): Promise<MessageRef>;
  postNotice(view: NoticeView): Promise<MessageRef | null>;
  /**
   * A direct message to one member, for what cannot be said where the round lives (its
   * channel is gone). May throw: the member may not take direct messages from the bot.
   */
  directMessage(userId: string, text: string): Promise<void>;
}

/**
 * For a message that must be posted once (a statement, critique invitation, results):
 * null on the first try; else when the first try began, which may have posted the
 * message without the bot recording it (a crash, Redis refusing the write). A platform
 * that can find its own message since then returns it instead of posting a second.
 */
export type EarlierTry = number | null;

/** Who is acting, as the adapter knows them. */
export interface Actor {
  userId: string;
  /** A moderator by the platform's rules (configured ids, admins, roles, permissions). */
  moderator: boolean;
  /** May start rounds (with no moderator list configured, everyone may). */
  mayStart: boolean;
}

/** The part of the service a platform adapter calls; adapters depend on this, not the class. */
export type PlatformService = Pick<
  import('./service.js').DeliberationService,
  | 'start'
  | 'close'
  | 'critique'
  | 'finish'
  | 'cancel'
  | 'extend'
  | 'status'
  | 'results'
  | 'export'
  | 'exportWorkspace'
  | 'admitCommand'
  | 'reply'
  | 'removeReply'
  | 'react'
>;
